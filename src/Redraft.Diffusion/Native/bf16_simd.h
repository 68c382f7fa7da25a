// Helpers shared by the bf16 kernels. Include after `#pragma GCC target("avx512f,...")`: everything here is
// AVX-512 code and is only reached after redraft_kernels_supported() said yes.
#ifndef REDRAFT_BF16_SIMD_H
#define REDRAFT_BF16_SIMD_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t bf16_t;

static inline float bf16_to_float(bf16_t v)
{
    uint32_t bits = (uint32_t)v << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Up to 16 bf16 values (the lanes set in `mask`) widened to fp32; other lanes are zero.
static inline __m512 load_bf16x16(const bf16_t *p, __mmask16 mask)
{
    __m256i raw = _mm256_maskz_loadu_epi16(mask, p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(raw), 16));
}

// The lanes set in `mask` rounded to bf16 (round to nearest even, as libtorch rounds) and stored.
static inline void store_bf16x16(bf16_t *p, __m512 v, __mmask16 mask)
{
    __m256bh packed = _mm512_cvtneps_pbh(v);
    _mm256_mask_storeu_epi16(p, mask, (__m256i)packed);
}

// The mask of the first `count` lanes (count may exceed 16).
static inline __mmask16 first_lanes(long count)
{
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1u);
}

// 2^x for x <= 0, |relative error| < 3e-6: 2^round(x) * 2^f with f in [-0.5, 0.5], Taylor to degree 5.
// Below -126 it returns 2^-126.
static inline __m512 exp2_nonpositive(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.3333558146428443e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// x * sigmoid(x) = x / (1 + e^-x). For x far below zero e^-x is clamped at 2^126, which still gives ~0.
static inline __m512 silu_ps(__m512 x)
{
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(-1.4426950408889634f)); // -x * log2(e)
    __m512 big = _mm512_min_ps(t, _mm512_set1_ps(126.0f));
    // 2^t for t of either sign: 2^-|t| is accurate, and for t > 0 its reciprocal is taken.
    __m512 small = exp2_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(big)));
    __mmask16 positive = _mm512_cmp_ps_mask(big, _mm512_setzero_ps(), _CMP_GT_OQ);
    __m512 e = _mm512_mask_div_ps(small, positive, _mm512_set1_ps(1.0f), small);
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

#endif
