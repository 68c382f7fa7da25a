// Fused scaled-dot-product attention for bf16 activations on CPUs with AVX512-BF16 (Zen 4, Sapphire Rapids).
//
// Why: libtorch's CPU attention runs bf16 no faster than fp32 and materialises the whole score matrix per head,
// so at the 64x64 latent level (4096 tokens) it is memory-bound. This kernel follows FlashAttention's forward
// pass: for a tile of query rows it walks the keys in blocks, keeps a running max and sum per row (online
// softmax in fp32), and never stores more than one block of scores. Dot products use VDPBF16PS (bf16 pairs,
// fp32 accumulation); softmax statistics, exponentials and the output accumulation are fp32.
//
// Layout: q is (B, N, H*D), k and v are (B, M, H*D), out is (B, N, H*D), all bf16, row-major and contiguous:
// the projections' own layout, so no head transposes are needed. One call handles one (batch, head) pair;
// the caller spreads pairs over threads. Keys are padded to whole blocks with scores of -1e30, whose weights
// (2^-126 after exp2_nonpositive's clamp) meet zero values and add only 1e-38 each to the row sums.
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")
#include "bf16_simd.h"

#define MAX_KEY_BLOCK 256   // keys per online-softmax step: one block of scores (rows x 256 fp32) stays in L1
#define MAX_PAIRS 80        // head sizes up to 160
#define KEY_TILE 32     // keys per register tile of the score loop (two zmm of 16 fp32)

// Per-thread working memory for one (batch, head): packed keys and values, one block of scores and
// probabilities, and the running output of one query tile.
typedef struct
{
    bf16_t *k_packed;   // [M_pad/16][D/2][16 keys][2]
    bf16_t *v_packed;   // [M_pad/2][NZ*16 dims][2]
    float *scores;      // [ROWS][kb]
    bf16_t *probs;      // [ROWS][kb]
} scratch_t;

// The kernel for one output width NZ (zmm registers of 16 dims per output row) and query tile ROWS, chosen so
// that ROWS*NZ accumulators stay in registers during the P.V product.
#define DEFINE_ATTENTION(NZ, ROWS, SUFFIX, KEY_BLOCK)                                                                              \
static void attend_##NZ##SUFFIX(const bf16_t *q, const bf16_t *k, const bf16_t *v, bf16_t *out,                        \
                        long n, long m, long stride, long d, float scale_log2e, long kb_arg, scratch_t *s)               \
{                                                                                                              \
    const long kb = KEY_BLOCK; (void)kb_arg;                                                                   \
    const long pairs = d / 2;                                                                                  \
    const long m_pad = (m + kb - 1) / kb * kb;                                                                 \
    /* Keys: 16 keys x 1 dim-pair per zmm, so one VDPBF16PS scores 16 keys against a broadcast query pair. */  \
    for (long j0 = 0; j0 < m_pad; j0 += 16)                                                                    \
        for (long p = 0; p < pairs; p++)                                                                       \
        {                                                                                                      \
            bf16_t *dst = s->k_packed + ((j0 / 16) * pairs + p) * 32;                                          \
            for (long jj = 0; jj < 16; jj++)                                                                   \
            {                                                                                                  \
                long j = j0 + jj;                                                                              \
                dst[2 * jj] = j < m ? k[j * stride + 2 * p] : 0;                                               \
                dst[2 * jj + 1] = j < m ? k[j * stride + 2 * p + 1] : 0;                                       \
            }                                                                                                  \
        }                                                                                                      \
    /* Values: 16 dims x 1 key-pair per zmm, so one VDPBF16PS adds two keys' values to 16 output dims. */      \
    for (long t = 0; t < m_pad / 2; t++)                                                                       \
    {                                                                                                          \
        bf16_t *dst = s->v_packed + t * (NZ * 32);                                                             \
        for (long c = 0; c < NZ * 16; c++)                                                                     \
        {                                                                                                      \
            long j = 2 * t;                                                                                    \
            dst[2 * c] = (c < d && j < m) ? v[j * stride + c] : 0;                                             \
            dst[2 * c + 1] = (c < d && j + 1 < m) ? v[(j + 1) * stride + c] : 0;                               \
        }                                                                                                      \
    }                                                                                                          \
    uint32_t qtile[ROWS][MAX_PAIRS];                                                                                  \
    for (long i0 = 0; i0 < n; i0 += ROWS)                                                                      \
    {                                                                                                          \
        const long rows = n - i0 < ROWS ? n - i0 : ROWS;                                                       \
        for (long r = 0; r < ROWS; r++)                                                                        \
            for (long p = 0; p < pairs; p++)                                                                   \
            {                                                                                                  \
                uint32_t pair = 0;                                                                             \
                if (r < rows) memcpy(&pair, q + (i0 + r) * stride + 2 * p, 4);                                 \
                qtile[r][p] = pair;                                                                            \
            }                                                                                                  \
        __m512 acc[ROWS][NZ];                                                                                  \
        float row_max[ROWS], row_sum[ROWS];                                                                    \
        for (long r = 0; r < ROWS; r++)                                                                        \
        {                                                                                                      \
            row_max[r] = -1e30f;                                                                               \
            row_sum[r] = 0;                                                                                    \
            for (int z = 0; z < NZ; z++) acc[r][z] = _mm512_setzero_ps();                                      \
        }                                                                                                      \
        for (long b0 = 0; b0 < m_pad; b0 += kb)                                                         \
        {                                                                                                      \
            /* Scores of the tile's rows against this block of keys, already scaled to log2 units. */          \
            for (long t0 = 0; t0 < kb; t0 += KEY_TILE)                                                  \
            {                                                                                                  \
                __m512 s0[ROWS], s1[ROWS];                                                                     \
                for (long r = 0; r < ROWS; r++) { s0[r] = _mm512_setzero_ps(); s1[r] = _mm512_setzero_ps(); }  \
                const bf16_t *kb0 = s->k_packed + ((b0 + t0) / 16) * pairs * 32;                               \
                const bf16_t *kb1 = kb0 + pairs * 32;                                                          \
                for (long p = 0; p < pairs; p++)                                                               \
                {                                                                                              \
                    __m512bh k0 = (__m512bh)_mm512_loadu_si512(kb0 + p * 32);                                  \
                    __m512bh k1 = (__m512bh)_mm512_loadu_si512(kb1 + p * 32);                                  \
                    for (long r = 0; r < ROWS; r++)                                                            \
                    {                                                                                          \
                        __m512bh qb = (__m512bh)_mm512_set1_epi32((int)qtile[r][p]);                           \
                        s0[r] = _mm512_dpbf16_ps(s0[r], qb, k0);                                               \
                        s1[r] = _mm512_dpbf16_ps(s1[r], qb, k1);                                               \
                    }                                                                                          \
                }                                                                                              \
                for (long r = 0; r < ROWS; r++)                                                                \
                {                                                                                              \
                    _mm512_storeu_ps(s->scores + r * kb + t0, _mm512_mul_ps(s0[r], _mm512_set1_ps(scale_log2e))); \
                    _mm512_storeu_ps(s->scores + r * kb + t0 + 16, _mm512_mul_ps(s1[r], _mm512_set1_ps(scale_log2e))); \
                }                                                                                              \
            }                                                                                                  \
            const long valid = m - b0 < kb ? m - b0 : kb;                                        \
            /* Online softmax: new running max, rescale what was accumulated, exponentiate the block. */       \
            for (long r = 0; r < ROWS; r++)                                                                    \
            {                                                                                                  \
                float *sr = s->scores + r * kb;                                                         \
                for (long j = valid; j < kb; j++) sr[j] = -1e30f;                                       \
                __m512 mx = _mm512_set1_ps(row_max[r]);                                                        \
                for (long j = 0; j < kb; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(sr + j));      \
                float new_max = _mm512_reduce_max_ps(mx);                                                      \
                float correction = row_max[r] <= -1e30f ? 0.0f                                                 \
                    : _mm512_cvtss_f32(exp2_nonpositive(_mm512_set1_ps(row_max[r] - new_max)));                \
                row_max[r] = new_max;                                                                          \
                __m512 vmax = _mm512_set1_ps(new_max), sum = _mm512_setzero_ps();                              \
                bf16_t *pr = s->probs + r * kb;                                                         \
                for (long j = 0; j < kb; j += 32)                                                       \
                {                                                                                              \
                    __m512 e0 = exp2_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(sr + j), vmax));                \
                    __m512 e1 = exp2_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(sr + j + 16), vmax));           \
                    __m512bh packed = _mm512_cvtne2ps_pbh(e1, e0);                                             \
                    _mm512_storeu_si512(pr + j, (__m512i)packed);                                              \
                    sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));                                           \
                }                                                                                              \
                row_sum[r] = row_sum[r] * correction + _mm512_reduce_add_ps(sum);                              \
                __m512 c = _mm512_set1_ps(correction);                                                         \
                for (int z = 0; z < NZ; z++) acc[r][z] = _mm512_mul_ps(acc[r][z], c);                          \
            }                                                                                                  \
            /* Output += P . V over the block, two keys per instruction. */                                    \
            const bf16_t *vb = s->v_packed + (b0 / 2) * (NZ * 32);                                             \
            for (long t = 0; t < kb / 2; t++)                                                           \
            {                                                                                                  \
                __m512bh vz[NZ];                                                                               \
                for (int z = 0; z < NZ; z++) vz[z] = (__m512bh)_mm512_loadu_si512(vb + t * (NZ * 32) + z * 32);\
                for (long r = 0; r < ROWS; r++)                                                                \
                {                                                                                              \
                    uint32_t pair;                                                                             \
                    memcpy(&pair, s->probs + r * kb + 2 * t, 4);                                        \
                    __m512bh pb = (__m512bh)_mm512_set1_epi32((int)pair);                                      \
                    for (int z = 0; z < NZ; z++) acc[r][z] = _mm512_dpbf16_ps(acc[r][z], pb, vz[z]);           \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        for (long r = 0; r < rows; r++)                                                                        \
        {                                                                                                      \
            float values[NZ * 16];                                                                             \
            __m512 inv = _mm512_set1_ps(1.0f / row_sum[r]);                                                    \
            for (int z = 0; z < NZ; z++) _mm512_storeu_ps(values + z * 16, _mm512_mul_ps(acc[r][z], inv));   \
            bf16_t *o = out + (i0 + r) * stride;                                                               \
            for (long c = 0; c + 1 < d; c += 2)                                                                \
            {                                                                                                  \
                __m128bh two = _mm_cvtneps_pbh(_mm_setr_ps(values[c], values[c + 1], 0, 0));                   \
                memcpy(o + c, &two, 4);                                                                        \
            }                                                                                                  \
        }                                                                                                      \
    }                                                                                                          \
}

// Long key sequences use a compile-time block (fully unrolled inner loops); short ones (cross-attention over
// 77 tokens) a block just large enough for them.
#define DEFINE_BOTH(NZ, ROWS) DEFINE_ATTENTION(NZ, ROWS, _long, MAX_KEY_BLOCK) DEFINE_ATTENTION(NZ, ROWS, _short, kb_arg)
DEFINE_BOTH(1, 8)
DEFINE_BOTH(2, 8)
DEFINE_BOTH(3, 8)
DEFINE_BOTH(4, 6)
DEFINE_BOTH(5, 4)
DEFINE_BOTH(10, 2)

/// softmax(q.k^T * scale).v for one (batch, head) pair, `item` = batch * heads + head, of q (batches, n, heads*d),
/// k and v (batches, m, heads*d), written into out (batches, n, heads*d); all bf16, contiguous.
/// Returns 0 on success, 1 for an unsupported head size (even, 2 to 160), 2 when out of memory.
int redraft_attention_bf16(const bf16_t *q, const bf16_t *k, const bf16_t *v, bf16_t *out,
                           long heads, long n, long m, long d, float scale, long item)
{
    if (d < 2 || d > 2 * MAX_PAIRS || d % 2 != 0 || n < 1 || m < 1 || heads < 1) return 1;
    const long b = item / heads, h = item % heads, stride = heads * d;
    const bf16_t *qh = q + b * n * stride + h * d;
    const bf16_t *kh = k + b * m * stride + h * d;
    const bf16_t *vh = v + b * m * stride + h * d;
    bf16_t *oh = out + b * n * stride + h * d;
    // Output registers per row: the smallest instantiated width that holds d (extra lanes see zero values).
    int nz = (int)((d + 15) / 16);
    nz = nz <= 5 ? nz : 10;
    // Short key sequences (cross-attention over 77 tokens) get a block just large enough, not 256.
    const long kb = m >= MAX_KEY_BLOCK ? MAX_KEY_BLOCK : (m + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
    const long m_pad = (m + kb - 1) / kb * kb;
    scratch_t s;
    s.k_packed = aligned_alloc(64, ((size_t)m_pad * d * sizeof(bf16_t) + 63) / 64 * 64);
    s.v_packed = aligned_alloc(64, ((size_t)m_pad * nz * 16 * sizeof(bf16_t) + 63) / 64 * 64);
    s.scores = aligned_alloc(64, (size_t)8 * MAX_KEY_BLOCK * sizeof(float));
    s.probs = aligned_alloc(64, (size_t)8 * MAX_KEY_BLOCK * sizeof(bf16_t));
    int status = 0;
    if (!s.k_packed || !s.v_packed || !s.scores || !s.probs) status = 2;
    else
    {
        const float scale_log2e = scale * 1.4426950408889634f;
        const int long_keys = kb == MAX_KEY_BLOCK;
#define CALL(NZ) (long_keys ? attend_##NZ##_long : attend_##NZ##_short)(qh, kh, vh, oh, n, m, stride, d, scale_log2e, kb, &s)
        switch (nz)
        {
            case 1: CALL(1); break;
            case 2: CALL(2); break;
            case 3: CALL(3); break;
            case 4: CALL(4); break;
            case 5: CALL(5); break;
            default: CALL(10); break;
        }
#undef CALL
    }
    free(s.k_packed);
    free(s.v_packed);
    free(s.scores);
    free(s.probs);
    return status;
}
