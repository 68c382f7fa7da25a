using Redraft.Diffusion.Networks;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>
/// Recognises a checkpoint's family and hyper-parameters from tensor names and shapes alone (as ComfyUI does),
/// so users of ordinary SD checkpoints never pick a config. SD 1.x: context 768, conv proj_in, 8 heads;
/// SD 2.x: context 1024, linear proj_in, 64 channels per head, OpenCLIP text tower.
/// </summary>
internal static class ModelDetector
{
    private const string U = DiffusersWeightSource.UNetPrefix;
    private const string V = DiffusersWeightSource.VaePrefix;
    private const string T = DiffusersWeightSource.TextPrefix;

    /// <summary>Detects the whole model; throws a user-facing error when the file is not a recognised SD checkpoint.</summary>
    /// <remarks>
    /// SD 2.x (an OpenCLIP text tower under <c>cond_stage_model.model.</c>) is detected as epsilon-predicting: shapes
    /// cannot tell v-prediction apart, so a 768-v model (SD 2.0/2.1 768) needs its YAML (<c>parameterization: "v"</c>)
    /// or an explicit prediction override. SD 2.1-base and SD-Turbo are epsilon models and load as they are.
    /// </remarks>
    public static ModelDescription Detect(IWeightSource source)
    {
        var text = DetectText(source);
        var unet = DetectUNet(source);
        var vae = DetectVae(source, V);
        bool openClip = text.Layout == TextEncoderLayout.OpenClip;
        return new ModelDescription
        {
            Family = openClip || unet.ContextDim == 1024 ? "sd2" : "sd1",
            UNet = unet,
            Vae = vae,
            Text = text,
            PadToken = openClip ? OpenClipPadToken : ClipLPadToken,
        };
    }

    private const int OpenClipPadToken = Redraft.Diffusion.Text.PromptChunker.OpenClipPadToken, ClipLPadToken = Redraft.Diffusion.Text.PromptChunker.ClipLPadToken;

    /// <summary>
    /// The text tower, sized from its shapes: OpenCLIP naming under <c>cond_stage_model.model.</c> (SD 2.x: exact GELU,
    /// conditioning from the penultimate block) or Hugging Face CLIP naming under <c>cond_stage_model.transformer.</c>
    /// (SD 1.x: quick-GELU, last layer). Heads = width / 64 either way.
    /// </summary>
    public static TextEncoderConfig DetectText(IWeightSource source)
    {
        const string O = OpenClipKeyMap.Prefix;
        if (Shape(source, O + "token_embedding.weight", 2) is { } openEmb)
        {
            var openPos = Need(source, O + "positional_embedding", 2, "the OpenCLIP text encoder (cond_stage_model.model.*)");
            int blocks = 0;
            while (source.ShapeOf($"{O}transformer.resblocks.{blocks}.attn.in_proj_weight") is not null) blocks++;
            if (blocks == 0)
                throw new CheckpointFormatException($"{source.Origin}: no OpenCLIP text encoder blocks (cond_stage_model.model.transformer.resblocks.*); the text encoder is incomplete.");
            var fc = Need(source, $"{O}transformer.resblocks.0.mlp.c_fc.weight", 2, "the OpenCLIP text encoder");
            int openWidth = (int)openEmb[1];
            return new TextEncoderConfig
            {
                VocabSize = (int)openEmb[0],
                Width = openWidth,
                MaxPositions = (int)openPos[0],
                Layers = blocks,
                Heads = Math.Max(1, openWidth / 64),
                IntermediateSize = (int)fc[0],
                QuickGelu = false,
                Layout = TextEncoderLayout.OpenClip,
                SkipLastLayers = blocks > 1 ? 1 : 0,
            };
        }

        var emb = Need(source, T + "text_model.embeddings.token_embedding.weight", 2,
            "the text encoder: cond_stage_model.transformer.* (CLIP, SD 1.x) or cond_stage_model.model.* (OpenCLIP, SD 2.x)");
        var pos = Need(source, T + "text_model.embeddings.position_embedding.weight", 2, "the CLIP text encoder");
        int layers = 0;
        while (source.ShapeOf($"{T}text_model.encoder.layers.{layers}.mlp.fc1.weight") is not null) layers++;
        if (layers == 0)
            throw new CheckpointFormatException($"{source.Origin}: no CLIP text encoder layers (cond_stage_model.transformer.text_model.encoder.layers.*); the text encoder is incomplete.");
        var fc1 = Need(source, $"{T}text_model.encoder.layers.0.mlp.fc1.weight", 2, "the CLIP text encoder");
        int width = (int)emb[1];
        return new TextEncoderConfig
        {
            VocabSize = (int)emb[0],
            Width = width,
            MaxPositions = (int)pos[0],
            Layers = layers,
            Heads = Math.Max(1, width / 64),
            IntermediateSize = (int)fc1[0],
            QuickGelu = true,
        };
    }

    /// <summary>The UNet under <c>model.diffusion_model.</c>.</summary>
    public static UNetConfig DetectUNet(IWeightSource source)
    {
        var convIn = Need(source, U + "input_blocks.0.0.weight", 4, "the UNet (model.diffusion_model.*)");
        int mc = (int)convIn[0];
        var outConv = Need(source, U + "out.2.weight", 4, "the UNet");
        var levels = new List<int>();
        var attentionLevels = new List<int>();
        int resBlocks = -1, depth = 1, contextDim = 768, n = 1;
        bool linear = false;
        int level = 0, inLevel = 0;
        while (true)
        {
            if (source.ShapeOf($"{U}input_blocks.{n}.0.op.weight") is not null)
            {
                if (resBlocks < 0) resBlocks = inLevel;
                level++;
                inLevel = 0;
                n++;
                continue;
            }
            var resOut = Shape(source, $"{U}input_blocks.{n}.0.out_layers.3.weight", 4);
            if (resOut is null) break;
            if (inLevel == 0) levels.Add(Multiple(source, $"{U}input_blocks.{n}.0.out_layers.3.weight", resOut[0], mc));
            if (Shape(source, $"{U}input_blocks.{n}.1.proj_in.weight", 2, 4) is { } projIn)
            {
                if (!attentionLevels.Contains(level)) attentionLevels.Add(level);
                linear = projIn.Length == 2;
                contextDim = (int)Need(source, $"{U}input_blocks.{n}.1.transformer_blocks.0.attn2.to_k.weight", 2, "the UNet")[1];
                depth = 0;
                while (source.ShapeOf($"{U}input_blocks.{n}.1.transformer_blocks.{depth}.norm1.weight") is not null) depth++;
            }
            inLevel++;
            n++;
        }
        if (resBlocks < 0) resBlocks = inLevel;
        if (levels.Count == 0)
            throw new CheckpointFormatException($"{source.Origin}: the UNet has no res blocks (model.diffusion_model.input_blocks.1.0.*); not a Stable Diffusion checkpoint.");
        bool sd2 = contextDim == 1024 || linear;
        return new UNetConfig
        {
            InChannels = (int)convIn[1],
            OutChannels = (int)outConv[0],
            ModelChannels = mc,
            ChannelMult = levels,
            NumResBlocks = resBlocks,
            AttentionResolutions = attentionLevels.Select(l => 1 << l).ToArray(),
            TransformerDepth = Math.Max(1, depth),
            ContextDim = contextDim,
            UseLinearInTransformer = linear,
            NumHeads = 8,
            NumHeadChannels = sd2 ? 64 : -1,
        };
    }

    /// <summary>The autoencoder under <paramref name="prefix"/> (<c>first_stage_model.</c> in a full checkpoint).</summary>
    public static AutoencoderConfig DetectVae(IWeightSource source, string prefix)
    {
        var convIn = Need(source, prefix + "encoder.conv_in.weight", 4, "the VAE (first_stage_model.*)");
        int ch = (int)convIn[0];
        var mults = new List<int>();
        while (Shape(source, $"{prefix}encoder.down.{mults.Count}.block.0.conv1.weight", 4) is { } s)
            mults.Add(Multiple(source, $"{prefix}encoder.down.{mults.Count}.block.0.conv1.weight", s[0], ch));
        int blocks = 0;
        while (source.ShapeOf($"{prefix}encoder.down.0.block.{blocks}.conv1.weight") is not null) blocks++;
        var decIn = Need(source, prefix + "decoder.conv_in.weight", 4, "the VAE decoder");
        var postQuant = Need(source, prefix + "post_quant_conv.weight", 4, "the VAE");
        return new AutoencoderConfig
        {
            Channels = ch,
            ChannelMult = mults,
            NumResBlocks = Math.Max(1, blocks),
            ZChannels = (int)decIn[1],
            EmbedDim = (int)postQuant[1],
            InChannels = (int)convIn[1],
        };
    }

    /// <summary>Largest size along one axis read from a checkpoint (CLIP's vocabulary, 49,408, is the largest real one).</summary>
    private const long MaxDimension = 1 << 20;

    private static long[] Need(IWeightSource source, string key, int rank, string what) =>
        Shape(source, key, rank) ?? throw new CheckpointFormatException(
            $"{source.Origin}: missing tensor {key} ({what}); this is not a Stable Diffusion 1.x/2.x checkpoint in the original layout, or it is incomplete.");

    /// <summary>
    /// The shape of <paramref name="key"/> (null when absent), refused unless it has one of the expected ranks and
    /// every size is between 1 and <see cref="MaxDimension"/>: the network is built from these numbers, so a zero,
    /// a missing axis or a size past <see cref="int"/> must stop here with the tensor's name, not deep in libtorch.
    /// </summary>
    private static long[]? Shape(IWeightSource source, string key, params int[] ranks)
    {
        var shape = source.ShapeOf(key);
        if (shape is null) return null;
        if (!ranks.Contains(shape.Length) || shape.Any(d => d < 1 || d > MaxDimension))
            throw new CheckpointFormatException(
                $"{source.Origin}: tensor {key} has shape [{string.Join(", ", shape)}], not {string.Join(" or ", ranks.Select(r => $"{r}-D"))} with sizes from 1 to {MaxDimension}; the checkpoint is damaged or not a Stable Diffusion 1.x/2.x model.");
        return shape;
    }

    /// <summary><paramref name="channels"/> / <paramref name="baseChannels"/>, refused unless it divides exactly (a channel multiplier).</summary>
    private static int Multiple(IWeightSource source, string key, long channels, int baseChannels) =>
        channels % baseChannels == 0
            ? (int)(channels / baseChannels)
            : throw new CheckpointFormatException(
                $"{source.Origin}: tensor {key} has {channels} channels, not a multiple of the base {baseChannels}; the checkpoint is damaged or not a Stable Diffusion 1.x/2.x model.");
}
