using System.Runtime.CompilerServices;
using Redraft.Diffusion.Networks;
using Redraft.Diffusion.Pipelines;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// LoRA files merged into a loaded model's UNet and text encoder, in place, and the means to take them out again.
/// <para>
/// For every changed layer the merged weight is <c>W + Σᵢ weightᵢ · (alphaᵢ / rankᵢ) · (Upᵢ @ Downᵢ)</c>: the sum of all
/// LoRAs' updates is formed in fp32 on the parameter's device, then added to the weight once. An fp32 (or fp64) weight
/// gets the sum added in its own dtype; a 16-bit weight (bf16, fp16) is widened to fp32, the sum added, and the result
/// rounded back once, so the order of the LoRAs never matters and no precision is lost twice.
/// </para>
/// <para>
/// <see cref="Unmerge"/> restores the original weights bit for bit from copies taken before merging; the copies cost
/// memory only for the layers the LoRAs change. LoRAs with weight 0 are read and validated but change nothing.
/// </para>
/// <para>
/// SD 2.x single files work too: their OpenCLIP tower fuses q, k and v into one weight, whose row blocks the LoRA's
/// separate projections update. With <c>--low-memory</c> the networks are reloaded for every generation, so the
/// updates are merged into each network as it loads, and taking the LoRAs out frees any network still loaded.
/// </para>
/// <para>
/// Only one set may be merged into a network at a time (unmerge it, then apply the new list), and merging must not run
/// while the model generates. Applying and unmerging through <see cref="Apply(StableDiffusionModel, IEnumerable{LoraSpec})"/>
/// also drops the model's cached prompt encodings, which a text-encoder LoRA makes stale.
/// </para>
/// </summary>
public sealed class AppliedLoras : IDisposable
{
    private static readonly ConditionalWeakTable<nn.Module, AppliedLoras> Active = new();
    private static readonly Lock ActiveGate = new();

    private readonly List<(Parameter Parameter, Tensor Original, string Key)> saved;
    private readonly nn.Module[] networks;
    private readonly Action? changed;

    /// <summary>The LoRAs merged, in the order given.</summary>
    public IReadOnlyList<LoraSpec> Loras { get; }

    /// <summary>LDM keys of the parameters changed (empty after <see cref="Unmerge"/>).</summary>
    public IReadOnlyList<string> ChangedKeys => saved.Select(s => s.Key).ToList();

    /// <summary>True until <see cref="Unmerge"/> (or <see cref="Dispose"/>) has run.</summary>
    public bool IsMerged { get; private set; } = true;

    private AppliedLoras(IReadOnlyList<LoraSpec> loras, List<(Parameter, Tensor, string)> saved, nn.Module[] networks, Action? changed)
    {
        Loras = loras;
        this.saved = saved;
        this.networks = networks;
        this.changed = changed;
    }

    /// <summary>Merges <paramref name="loras"/> into the model's UNet and text encoder; see the class remarks.</summary>
    /// <exception cref="RedraftInputException">A file is missing, not a LoRA, or does not fit the model; nothing is changed.</exception>
    /// <exception cref="InvalidOperationException">LoRAs are already merged into this model.</exception>
    public static AppliedLoras Apply(StableDiffusionModel model, IEnumerable<LoraSpec> loras)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.LowMemory) return ApplyOnLoad(model, loras);
        var applied = Apply(model.UNet, (nn.Module)model.TextEncoder, loras, () => model.Prompts.Clear());
        model.Prompts.Clear();
        return applied;
    }

    /// <summary>Merges <paramref name="loras"/> into <paramref name="unet"/> and <paramref name="textEncoder"/>; see the class remarks.</summary>
    /// <exception cref="RedraftInputException">A file is missing, not a LoRA, or does not fit the networks; nothing is changed.</exception>
    /// <exception cref="InvalidOperationException">LoRAs are already merged into one of the networks.</exception>
    internal static AppliedLoras Apply(UNetModel unet, ClipTextModel textEncoder, IEnumerable<LoraSpec> loras) =>
        Apply(unet, textEncoder, loras, null);

    /// <summary>
    /// <c>--low-memory</c>: the networks are loaded for their part of each generation and freed after it, so the LoRAs
    /// are merged into each network as it loads (reading the files again each time), and the networks that are still
    /// loaded when the LoRAs are taken out are freed, so the next load is the checkpoint's own weights.
    /// </summary>
    private static AppliedLoras ApplyOnLoad(StableDiffusionModel model, IEnumerable<LoraSpec> loras)
    {
        var specs = CheckSpecs(loras);
        var applied = new AppliedLoras(specs, [], [], () => model.Prompts.Clear()) { lowMemoryModel = model };
        // Networks loaded before (none, normally: low memory frees them after use) must not keep the base weights.
        model.ReleaseTextEncoderAndUNet();
        model.SetNetworkLoadHook(applied.MergeOnLoad);
        model.Prompts.Clear();
        return applied;
    }

    private StableDiffusionModel? lowMemoryModel;

    /// <summary>Merges every LoRA's layers for <paramref name="component"/> into a network that has just loaded.</summary>
    private void MergeOnLoad(nn.Module network, LoraComponent component)
    {
        var targets = component == LoraComponent.UNet
            ? new LoraTargets(network, ((UNetModel)network).Config.NumResBlocks, null)
            : new LoraTargets(null, 0, network);
        var perSpec = new List<(LoraSpec Spec, List<LoraLayer> Layers)>();
        try
        {
            foreach (var spec in Loras) perSpec.Add((spec, LoraFile.Read(spec.Path, targets, component)));
            // Originals are not kept: the network is freed after its part, or by Unmerge.
            Merge(perSpec, null);
        }
        finally
        {
            foreach (var (_, layers) in perSpec)
                foreach (var layer in layers) layer.Dispose();
        }
    }

    private static List<LoraSpec> CheckSpecs(IEnumerable<LoraSpec> loras)
    {
        ArgumentNullException.ThrowIfNull(loras);
        var specs = loras.ToList();
        foreach (var spec in specs)
        {
            ArgumentNullException.ThrowIfNull(spec, nameof(loras));
            if (!double.IsFinite(spec.Weight))
                throw new RedraftInputException($"LoRA {spec.Path}: the weight must be a finite number, got {spec.Weight}.");
        }
        return specs;
    }

    private static AppliedLoras Apply(UNetModel unet, nn.Module textEncoder, IEnumerable<LoraSpec> loras, Action? changed)
    {
        ArgumentNullException.ThrowIfNull(unet);
        ArgumentNullException.ThrowIfNull(textEncoder);
        var specs = CheckSpecs(loras);
        nn.Module[] networks = [unet, textEncoder];

        lock (ActiveGate)
        {
            if (networks.Any(n => Active.TryGetValue(n, out _)))
                throw new InvalidOperationException("LoRAs are already merged into this model; unmerge them before applying another list.");

            // Read and validate every file before touching a weight.
            var targets = new LoraTargets(unet, unet.Config.NumResBlocks, textEncoder);
            var perSpec = new List<(LoraSpec Spec, List<LoraLayer> Layers)>();
            var saved = new List<(Parameter, Tensor, string)>();
            try
            {
                foreach (var spec in specs)
                    perSpec.Add((spec, LoraFile.Read(spec.Path, targets)));
                Merge(perSpec, saved);
            }
            catch
            {
                Restore(saved);
                throw;
            }
            finally
            {
                foreach (var (_, layers) in perSpec)
                    foreach (var layer in layers) layer.Dispose();
            }

            var applied = new AppliedLoras(specs, saved, networks, changed);
            foreach (var n in networks) Active.AddOrUpdate(n, applied);
            return applied;
        }
    }

    /// <summary>Adds the updates, one sum per target; keeps each changed parameter's original once in <paramref name="saved"/> (when given).</summary>
    private static void Merge(List<(LoraSpec Spec, List<LoraLayer> Layers)> perSpec, List<(Parameter, Tensor, string)>? saved)
    {
        var kept = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        using var noGrad = no_grad();
        var byTarget = perSpec
            .Where(s => s.Spec.Weight != 0)
            .SelectMany(s => s.Layers.Select(layer => (s.Spec.Weight, Layer: layer)))
            .GroupBy(x => x.Layer.Target, ReferenceEqualityComparer.Instance);
        foreach (var group in byTarget)
        {
            var target = (LoraTarget)group.Key!;
            var parameter = target.Parameter;
            Tensor? total = null;
            try
            {
                foreach (var (weight, layer) in group)
                {
                    using var delta = layer.Delta(weight, parameter.device);
                    if (total is null) total = delta.clone().DetachFromDisposeScope();
                    else total.add_(delta);
                }
                // The q, k and v blocks of a fused weight are three targets of one parameter: keep it once.
                if (saved is not null && kept.Add(parameter))
                    saved.Add((parameter, parameter.clone().DetachFromDisposeScope(), target.LdmKey));
                using var view = target.View();
                if (view.dtype is ScalarType.Float32 or ScalarType.Float64)
                {
                    view.add_(total!);
                }
                else
                {
                    using var wide = view.to(ScalarType.Float32);
                    wide.add_(total!);
                    view.copy_(wide);
                }
            }
            finally
            {
                total?.Dispose();
            }
        }
    }

    private static void Restore(List<(Parameter Parameter, Tensor Original, string Key)> saved)
    {
        using var noGrad = no_grad();
        foreach (var (parameter, original, _) in saved)
        {
            parameter.copy_(original);
            original.Dispose();
        }
        saved.Clear();
    }

    /// <summary>
    /// Puts back the original weights, bit for bit, and frees the copies. Calling it again does nothing; afterwards a new
    /// list of LoRAs may be applied.
    /// </summary>
    public void Unmerge()
    {
        lock (ActiveGate)
        {
            if (!IsMerged) return;
            if (lowMemoryModel is { } model)
            {
                model.SetNetworkLoadHook(null);
                model.ReleaseTextEncoderAndUNet();
            }
            Restore(saved);
            IsMerged = false;
            foreach (var n in networks)
            {
                if (Active.TryGetValue(n, out var current) && ReferenceEquals(current, this)) Active.Remove(n);
            }
        }
        changed?.Invoke();
    }

    /// <summary>Same as <see cref="Unmerge"/>.</summary>
    public void Dispose() => Unmerge();
}
