using static TorchSharp.torch;

namespace Redraft.Diffusion.Pipelines;

/// <summary>Chooses the UNet's compute dtype from the user's "fp32" | "bf16" | "auto".</summary>
public static class ComputePrecision
{
    /// <summary>True when the CPU executes bf16 dot products natively (AVX512-BF16): bf16 is then ≈ 2× fp32 in oneDNN.</summary>
    public static bool CpuHasBf16 { get; } = DetectBf16();

    public static ScalarType Resolve(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "auto" => CpuHasBf16 ? ScalarType.BFloat16 : ScalarType.Float32,
        _ => throw new RedraftInputException($"unknown dtype \"{name}\"; valid: auto, bf16, fp32."),
    };

    public static string Name(ScalarType dtype) => dtype == ScalarType.BFloat16 ? "bf16" : "fp32";

    private static bool DetectBf16()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags") && l.Split(' ').Contains("avx512_bf16"));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
