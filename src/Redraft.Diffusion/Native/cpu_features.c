// Whether this CPU can run the bf16 kernels (AVX512F + BW + VL + DQ + BF16). Compiled without AVX-512 so that
// it can be asked anywhere; the kernels are compiled for AVX-512 and only called after it said yes.
int redraft_kernels_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bf16");
}
