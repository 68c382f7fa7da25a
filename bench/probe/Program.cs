using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
foreach (var m in typeof(nn.functional).GetMethods().Where(m => m.Name == "scaled_dot_product_attention"))
    Console.WriteLine(string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name + " " + p.Name)));
Redraft.Diffusion.TorchRuntime.Initialize(2);
var g = new Generator(1);
double Time(Func<Tensor> f, int runs = 5)
{
    using (NewDisposeScope()) f();
    var ts = new List<double>();
    for (int i = 0; i < runs; i++) { using var s = NewDisposeScope(); var sw = Stopwatch.StartNew(); var r = f(); r.sum().to(ScalarType.Float32).item<float>(); ts.Add(sw.Elapsed.TotalSeconds); }
    ts.Sort(); return ts[runs / 2];
}
var q = randn(new long[] { 2, 4096, 320 }, generator: g); var k = randn(new long[] { 2, 4096, 320 }, generator: g); var v = randn(new long[] { 2, 4096, 320 }, generator: g);
Tensor H(Tensor x, ScalarType t) => x.view(2, 4096, 8, 40).transpose(1, 2).to(t);
var qf = H(q, ScalarType.Float32); var kf = H(k, ScalarType.Float32); var vf = H(v, ScalarType.Float32);
var qb = H(q, ScalarType.BFloat16); var kb = H(k, ScalarType.BFloat16); var vb = H(v, ScalarType.BFloat16);
var reference = nn.functional.scaled_dot_product_attention(qf, kf, vf);
Console.WriteLine($"sdpa fp32 noncontig {Time(() => nn.functional.scaled_dot_product_attention(qf, kf, vf)):F3}");
Console.WriteLine($"sdpa fp32 contig {Time(() => nn.functional.scaled_dot_product_attention(qf.contiguous(), kf.contiguous(), vf.contiguous())):F3}");
Console.WriteLine($"sdpa bf16 noncontig {Time(() => nn.functional.scaled_dot_product_attention(qb, kb, vb)):F3}");
Console.WriteLine($"sdpa bf16 contig {Time(() => nn.functional.scaled_dot_product_attention(qb.contiguous(), kb.contiguous(), vb.contiguous())):F3}");
Tensor Pad(Tensor x, long to) => nn.functional.pad(x, new long[] { 0, to - 40 });
foreach (long pad in new long[] { 48, 64 })
{
    var qp = Pad(qb, pad).mul(Math.Sqrt(pad / 40.0)); var kp = Pad(kb, pad); var vp = Pad(vb, pad);
    Console.WriteLine($"sdpa bf16 pad{pad} {Time(() => nn.functional.scaled_dot_product_attention(qp, kp, vp)):F3}");
    var o = nn.functional.scaled_dot_product_attention(qp, kp, vp).narrow(-1, 0, 40).to(ScalarType.Float32);
    Console.WriteLine($"  rel err {(o - reference).norm().item<float>() / reference.norm().item<float>():E2}");
    var qpf = Pad(qf, pad).mul(Math.Sqrt(pad / 40.0)); var kpf = Pad(kf, pad); var vpf = Pad(vf, pad);
    Console.WriteLine($"sdpa fp32 pad{pad} {Time(() => nn.functional.scaled_dot_product_attention(qpf, kpf, vpf)):F3}");
}
// one head-batch at a time (L2-friendlier?)
Console.WriteLine($"bf16 batched matmul full: {Time(() => { var s = matmul(qb, kb.transpose(-1, -2)).mul(1 / Math.Sqrt(40)); var p = s.softmax(-1, ScalarType.Float32).to(ScalarType.BFloat16); return matmul(p, vb); }, 3):F3}");
