using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Redraft.Diffusion.Tests;
using Redraft.Imaging;

namespace Redraft.Cli.Tests.Hostile;

/// <summary>
/// Generates the hostile-input corpus from the tiny model and a few valid inputs: damaged and malicious checkpoints,
/// LoRAs, VAEs and TAESD files, images, parameter values and documents. Deterministic (seeded), so a failing case
/// has the same name and bytes on every run.
/// </summary>
public sealed class HostileCorpus
{
    private readonly CliModelFixture _f;
    private readonly byte[] _model;
    private readonly string _yaml;
    private readonly string _lora;
    private readonly string _document;

    /// <param name="f">The tiny model the cases start from.</param>
    /// <param name="work">A folder for the shared valid inputs (a LoRA, a document).</param>
    public HostileCorpus(CliModelFixture f, string work)
    {
        _f = f;
        _model = File.ReadAllBytes(f.Model);
        _yaml = File.ReadAllText(Path.ChangeExtension(f.Model, ".yaml"));
        _lora = DocTestKit.TinyLora(Path.Combine(work, "lora.safetensors"), 5);
        _document = Path.Combine(work, "document");
        var made = RedraftProcess.Run("doc", "new", _document, "--from", DocTestKit.Png(Path.Combine(work, "sketch.png"), 64, 64, 90, 160, 220));
        if (made.ExitCode != 0) throw new InvalidOperationException(made.Stderr);
        var added = RedraftProcess.Run("doc", "add-layer", _document, DocTestKit.Png(Path.Combine(work, "red.png"), 16, 16, 255, 0, 0));
        if (added.ExitCode != 0) throw new InvalidOperationException(added.Stderr);
    }

    /// <summary>Every case, in a fixed order.</summary>
    public IEnumerable<HostileCase> Cases() =>
        Checkpoints().Concat(Vaes()).Concat(Loras()).Concat(Taesd()).Concat(Images()).Concat(Parameters()).Concat(Documents());

    // ---- building blocks ----

    /// <summary>txt2img on the tiny model at 64×64 in one step, writing into the case's folder.</summary>
    private string[] Txt2Img(string dir, params string[] extra) =>
        _f.Generate("txt2img", Path.Combine(dir, "out.png"), ["--steps", "1", .. extra]);

    private string[] Img2Img(string dir, string init, params string[] extra) =>
        _f.Generate("img2img", Path.Combine(dir, "out.png"), ["--steps", "2", "--init", init, .. extra]);

    private static string Write(string dir, string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Writes a model file (and, unless told otherwise, the tiny model's YAML beside it, as users keep them).</summary>
    private string Model(string dir, byte[] bytes, bool withConfig = true)
    {
        string path = Write(dir, "model.safetensors", bytes);
        if (withConfig) File.WriteAllText(Path.ChangeExtension(path, ".yaml"), _yaml);
        return path;
    }

    private static (JsonObject Header, byte[] Data) Split(byte[] file)
    {
        long length = BinaryPrimitives.ReadInt64LittleEndian(file);
        var header = JsonNode.Parse(file.AsSpan(8, (int)length))!.AsObject();
        return (header, file[(8 + (int)length)..]);
    }

    private static byte[] Join(string headerJson, byte[] data, long? declaredLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(file, declaredLength ?? header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    /// <summary>The file with its header changed by <paramref name="edit"/> (data unchanged).</summary>
    private static byte[] EditHeader(byte[] file, Action<JsonObject> edit)
    {
        var (header, data) = Split(file);
        edit(header);
        return Join(header.ToJsonString(), data);
    }

    /// <summary>The file with <paramref name="count"/> seeded random bytes flipped between <paramref name="from"/> and <paramref name="to"/>.</summary>
    private static byte[] Flip(byte[] file, int seed, int count, long from, long to)
    {
        var copy = (byte[])file.Clone();
        var random = new Random(seed);
        for (int i = 0; i < count; i++) copy[random.NextInt64(from, to)] ^= (byte)random.Next(1, 256);
        return copy;
    }

    private static long HeaderEnd(byte[] file) => 8 + BinaryPrimitives.ReadInt64LittleEndian(file);

    private static string FirstKey(JsonObject header, string prefix) => header.Select(p => p.Key).First(k => k.StartsWith(prefix, StringComparison.Ordinal));

    private const string U = "model.diffusion_model.";

    // ---- checkpoints ----

    private IEnumerable<HostileCase> Checkpoints()
    {
        const string F = "checkpoint";
        HostileCase Case(string name, Outcome expected, Func<byte[]> bytes, bool withConfig = true) =>
            new(F, name, expected, dir => Txt2Img(dir, "--model", Model(dir, bytes(), withConfig)));

        long headerEnd = HeaderEnd(_model);
        foreach (long at in new[] { 0L, 1, 7, 8, 9, headerEnd / 2, headerEnd - 1, headerEnd, headerEnd + 1, headerEnd + 4096, _model.Length / 4, _model.Length / 2, _model.Length - 1 })
            yield return Case($"truncated at {at}", Outcome.Refused, () => _model[..(int)at]);
        foreach (bool config in new[] { true, false })
            yield return Case($"valid{(config ? "" : " without YAML")}", Outcome.Accepted, () => _model, config);

        string conv = U + "input_blocks.0.0.weight";
        var headerEdits = new (string Name, Outcome Expected, Action<JsonObject> Edit)[]
        {
            ("dtype I32 for a float weight", Outcome.Refused, h => h[conv]!["dtype"] = "I32"),
            ("dtype U8", Outcome.Refused, h => h[conv]!["dtype"] = "U8"),
            ("dtype BOOL", Outcome.Refused, h => h[conv]!["dtype"] = "BOOL"),
            ("dtype F64", Outcome.Refused, h => h[conv]!["dtype"] = "F64"),
            ("dtype unknown", Outcome.Refused, h => h[conv]!["dtype"] = "F7"),
            ("dtype number", Outcome.Refused, h => h[conv]!["dtype"] = 32),
            ("dtype missing", Outcome.Refused, h => h[conv]!.AsObject().Remove("dtype")),
            ("shape missing", Outcome.Refused, h => h[conv]!.AsObject().Remove("shape")),
            ("offsets missing", Outcome.Refused, h => h[conv]!.AsObject().Remove("data_offsets")),
            ("shape negative", Outcome.Refused, h => h[conv]!["shape"]![0] = -32),
            ("shape zero", Outcome.Refused, h => h[conv]!["shape"]![0] = 0),
            ("shape fraction", Outcome.Refused, h => h[conv]!["shape"]![0] = 1.5),
            ("shape string", Outcome.Refused, h => h[conv]!["shape"]![0] = "32"),
            ("shape 2^62", Outcome.Refused, h => h[conv]!["shape"]![0] = 1L << 62),
            ("shape overflowing product", Outcome.Refused, h => h[conv]!["shape"] = new JsonArray(1L << 40, 1L << 40, 0, 1)),
            ("shape with extra axis", Outcome.Refused, h => h[conv]!["shape"]!.AsArray().Add(1)),
            ("shape swapped", Outcome.Refused, h => { var s = h[conv]!["shape"]!.AsArray(); var a = (long)s[0]!; s[0] = (long)s[1]!; s[1] = a; }),
            ("offsets reversed", Outcome.Refused, h => { var o = h[conv]!["data_offsets"]!.AsArray(); var a = (long)o[0]!; o[0] = (long)o[1]!; o[1] = a; }),
            ("offsets negative", Outcome.Refused, h => h[conv]!["data_offsets"]![0] = -4),
            ("offsets past the end", Outcome.Refused, h => { var o = h[conv]!["data_offsets"]!.AsArray(); o[0] = (long)o[0]! + (1L << 40); o[1] = (long)o[1]! + (1L << 40); }),
            ("offsets overlapping", Outcome.Refused, h => { var o = h[conv]!["data_offsets"]!.AsArray(); o[0] = (long)o[0]! + 4; o[1] = (long)o[1]! + 4; }),
            ("offsets one number", Outcome.Refused, h => h[conv]!["data_offsets"] = new JsonArray(0)),
            ("entry is a string", Outcome.Refused, h => h[conv] = "weights"),
            ("metadata is an array", Outcome.Refused, h => h["__metadata__"] = new JsonArray(1, 2)),
            ("metadata value is a number", Outcome.Refused, h => h["__metadata__"] = new JsonObject { ["format"] = 3 }),
            ("metadata valid", Outcome.Accepted, h => h["__metadata__"] = new JsonObject { ["format"] = "pt", ["note"] = "\u001b[31mred\u001b[0m" }),
            ("required UNet tensor removed", Outcome.Refused, h => h.Remove(U + "out.2.weight")),
            ("required VAE tensor removed", Outcome.Refused, h => h.Remove("first_stage_model.decoder.conv_in.weight")),
            ("text encoder removed", Outcome.Refused, h => { foreach (var k in h.Select(p => p.Key).Where(k => k.StartsWith("cond_stage_model.")).ToList()) h.Remove(k); }),
            ("everything removed", Outcome.Refused, h => h.Clear()),
            ("extra unknown tensor", Outcome.Accepted, h => h["extra.weight"] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(0), ["data_offsets"] = new JsonArray(0, 0) }),
            ("name with control characters", Outcome.Refused, h => { var v = h[conv]!.DeepClone(); h.Remove(conv); h[conv + "\u001b[2J\n"] = v; }),
            ("name 100 kB long", Outcome.Accepted, h => h[new string('k', 100_000)] = new JsonObject { ["dtype"] = "F32", ["shape"] = new JsonArray(0), ["data_offsets"] = new JsonArray(0, 0) }),
        };
        foreach (var (name, expected, edit) in headerEdits)
            yield return Case(name, expected, () => EditHeader(_model, edit));
        yield return Case("no YAML and dtype I32", Outcome.Refused, () => EditHeader(_model, h => h[conv]!["dtype"] = "I32"), withConfig: false);
        yield return Case("no YAML and UNet tensor removed", Outcome.Refused, () => EditHeader(_model, h => h.Remove(U + "input_blocks.1.0.out_layers.3.weight")), withConfig: false);

        // Raw header text the JSON model cannot express.
        var (tinyHeader, tinyData) = Split(_model);
        string json = tinyHeader.ToJsonString();
        string convEntry = tinyHeader[conv]!.ToJsonString();
        var rawEdits = new (string Name, Outcome Expected, Func<byte[]> Bytes)[]
        {
            ("duplicate key inside an entry", Outcome.Refused, () => Join(json.Replace(convEntry, convEntry.Replace("{\"dtype\":\"F32\"", "{\"dtype\":\"F32\",\"dtype\":\"F16\"")), tinyData)),
            ("duplicate tensor name", Outcome.Refused, () => Join(json[..^1] + $",\"{conv}\":{convEntry}}}", tinyData)),
            ("metadata nested 2000 deep", Outcome.Refused, () => Join(json[..^1] + ",\"__metadata__\":" + string.Concat(Enumerable.Repeat("{\"a\":", 2000)) + "1" + new string('}', 2000) + "}", tinyData)),
            ("trailing garbage after the JSON", Outcome.Refused, () => Join(json + "xyz", tinyData)),
            ("trailing spaces after the JSON", Outcome.Accepted, () => Join(json + "        ", tinyData)),
            ("invalid UTF-8 in a name", Outcome.Refused, () => { var b = Join(json, tinyData); b[8 + json.IndexOf(conv, StringComparison.Ordinal)] = 0xFF; return b; }),
            ("lone surrogate escape", Outcome.Refused, () => Join(json.Replace(conv, conv + "\\ud800"), tinyData)),
            ("header length 0", Outcome.Refused, () => Join(json, tinyData, 0)),
            ("header length past the file", Outcome.Refused, () => Join(json, tinyData, 1L << 40)),
            ("header length negative", Outcome.Refused, () => Join(json, tinyData, -1)),
            ("header length over 100 MB", Outcome.Refused, () => Join(json, tinyData, 200_000_000)),
            ("header is an array", Outcome.Refused, () => Join("[1,2,3]", tinyData)),
            ("header is null", Outcome.Refused, () => Join("null", tinyData)),
            ("200k entries", Outcome.Refused, () => Join("{" + string.Join(",", Enumerable.Range(0, 200_000).Select(i => $"\"t{i}\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}")) + "}", [])),
            ("a PNG", Outcome.Refused, () => ImageFiles.EncodePng(RgbImage.Filled(8, 8, 1, 2, 3))),
            ("text", Outcome.Refused, () => Encoding.UTF8.GetBytes("this is not a checkpoint\n")),
            ("a pickle", Outcome.Refused, () => [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E]),
            ("empty", Outcome.Refused, () => []),
        };
        foreach (var (name, expected, bytes) in rawEdits)
            yield return Case(name, expected, bytes);

        for (int seed = 0; seed < 20; seed++)
        {
            int s = seed;
            yield return Case($"header bytes flipped, seed {s}", Outcome.Either, () => Flip(_model, s, 1 + s % 4, 8, headerEnd));
        }
        for (int seed = 0; seed < 4; seed++)
        {
            int s = seed;
            yield return Case($"data bytes flipped, seed {s}", Outcome.Either, () => Flip(_model, 100 + s, 16, headerEnd, _model.Length));
        }
        yield return new(F, "a folder with no model in it", Outcome.Refused, dir => Txt2Img(dir, "--model", Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName));
        yield return new(F, "a diffusers folder with a broken model_index.json", Outcome.Refused, dir =>
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, "broken-diffusers")).FullName;
            File.WriteAllText(Path.Combine(folder, "model_index.json"), "{\"_class_name\": ");
            return Txt2Img(dir, "--model", folder);
        });
        yield return new(F, "/dev/zero", Outcome.Refused, dir => Txt2Img(dir, "--model", "/dev/zero"));
        yield return new(F, "missing file", Outcome.Refused, dir => Txt2Img(dir, "--model", Path.Combine(dir, "nope.safetensors")));
        yield return new(F, "a .ckpt", Outcome.Refused, dir => Txt2Img(dir, "--model", Write(dir, "model.ckpt", [0x80, 0x02])));
    }

    // ---- VAE, LoRA, TAESD ----

    /// <summary>The tiny model's VAE alone, in the layout of a standalone VAE file (no prefix).</summary>
    private byte[] VaeFile()
    {
        var (header, data) = Split(_model);
        var vae = new JsonObject();
        foreach (var (key, value) in header)
            if (key.StartsWith("first_stage_model.", StringComparison.Ordinal)) vae[key["first_stage_model.".Length..]] = value!.DeepClone();
        return Join(vae.ToJsonString(), data);
    }

    private IEnumerable<HostileCase> Vaes()
    {
        const string F = "vae";
        HostileCase Case(string name, Outcome expected, Func<byte[]> bytes) =>
            new(F, name, expected, dir => Txt2Img(dir, "--vae", Write(dir, "vae.safetensors", bytes())));
        var vae = VaeFile();
        long end = HeaderEnd(vae);
        yield return Case("valid", Outcome.Accepted, () => vae);
        yield return Case("the whole checkpoint", Outcome.Either, () => _model);
        foreach (long at in new[] { 5L, end - 3, end + 100, vae.Length - 1 })
            yield return Case($"truncated at {at}", Outcome.Refused, () => vae[..(int)at]);
        yield return Case("decoder tensor removed", Outcome.Refused, () => EditHeader(vae, h => h.Remove("decoder.conv_out.weight")));
        yield return Case("decoder tensor of another shape", Outcome.Refused, () => EditHeader(vae, h => h["decoder.conv_out.weight"]!["shape"]![0] = 1));
        yield return Case("a LoRA given as VAE", Outcome.Refused, () => File.ReadAllBytes(_lora));
        yield return Case("text", Outcome.Refused, () => Encoding.UTF8.GetBytes("vae"));
        for (int seed = 0; seed < 5; seed++)
        {
            int s = seed;
            yield return Case($"header bytes flipped, seed {s}", Outcome.Either, () => Flip(vae, 200 + s, 2, 8, end));
        }
        yield return new(F, "missing file", Outcome.Refused, dir => Txt2Img(dir, "--vae", Path.Combine(dir, "nope.safetensors")));
        yield return new(F, "a FIFO", Outcome.Refused, dir => Txt2Img(dir, "--vae", Fifo(dir)));
    }

    private IEnumerable<HostileCase> Loras()
    {
        const string F = "lora";
        var lora = File.ReadAllBytes(_lora);
        long end = HeaderEnd(lora);
        HostileCase Case(string name, Outcome expected, Func<byte[]> bytes, string weight = "0.8") =>
            new(F, name, expected, dir => Txt2Img(dir, "--lora", Write(dir, "lora.safetensors", bytes()) + ":" + weight));
        string down = Split(lora).Header.Select(p => p.Key).First(k => k.EndsWith("lora_down.weight", StringComparison.Ordinal));
        yield return Case("valid", Outcome.Accepted, () => lora);
        foreach (long at in new[] { 3L, end - 1, end + 10, lora.Length - 1 })
            yield return Case($"truncated at {at}", Outcome.Refused, () => lora[..(int)at]);
        yield return Case("down and up of different ranks", Outcome.Refused, () => EditHeader(lora, h => { var s = h[down]!["shape"]!.AsArray(); var (a, b) = ((long)s[0]!, (long)s[1]!); s[0] = a * 2; s[1] = b / 2; }));
        yield return Case("down removed", Outcome.Either, () => EditHeader(lora, h => h.Remove(down)));
        yield return Case("only keys for no layer", Outcome.Either, () => EditHeader(lora, h =>
        {
            foreach (var key in h.Select(p => p.Key).Where(k => k != "__metadata__").ToList()) { var v = h[key]!.DeepClone(); h.Remove(key); h["lora_unet_nowhere_" + key.Split('.').Last()] = v; }
        }));
        yield return Case("dtype I32", Outcome.Refused, () => EditHeader(lora, h => h[down]!["dtype"] = "I32"));
        yield return Case("the checkpoint given as LoRA", Outcome.Either, () => _model);
        foreach (var weight in new[] { "abc", "", "nan", "inf", "-inf", "1e308", "1:2" })
            yield return Case($"weight '{weight}'", Outcome.Refused, () => lora, weight);
        yield return Case("weight 0", Outcome.Accepted, () => lora, "0");
        yield return Case("weight -1.5", Outcome.Accepted, () => lora, "-1.5");
        for (int seed = 0; seed < 4; seed++)
        {
            int s = seed;
            yield return Case($"header bytes flipped, seed {s}", Outcome.Either, () => Flip(lora, 300 + s, 2, 8, end));
        }
        yield return new(F, "missing file", Outcome.Refused, dir => Txt2Img(dir, "--lora", Path.Combine(dir, "nope.safetensors")));
        yield return new(F, "/dev/zero", Outcome.Refused, dir => Txt2Img(dir, "--lora", "/dev/zero:1"));
    }

    private IEnumerable<HostileCase> Taesd()
    {
        const string F = "taesd";
        string real = Path.Combine(SharedData.DataDir, "taesd");
        HostileCase Case(string name, Outcome expected, Action<string> make) => new(F, name, expected, dir =>
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, "taesd")).FullName;
            make(folder);
            return Txt2Img(dir, "--steps", "2", "--taesd", folder, "--preview", Path.Combine(dir, "preview.png"), "--preview-every", "1");
        });
        byte[] Real(string part) => File.ReadAllBytes(Path.Combine(real, $"taesd_{part}.safetensors"));
        void Put(string folder, string part, byte[] bytes) => File.WriteAllBytes(Path.Combine(folder, $"taesd_{part}.safetensors"), bytes);
        yield return Case("valid", Outcome.Accepted, d => { Put(d, "encoder", Real("encoder")); Put(d, "decoder", Real("decoder")); });
        yield return Case("empty folder", Outcome.Refused, _ => { });
        yield return Case("decoder missing", Outcome.Refused, d => Put(d, "encoder", Real("encoder")));
        yield return Case("decoder truncated", Outcome.Refused, d => { Put(d, "encoder", Real("encoder")); var b = Real("decoder"); Put(d, "decoder", b[..(b.Length / 2)]); });
        yield return Case("decoder is the encoder", Outcome.Refused, d => { Put(d, "encoder", Real("encoder")); Put(d, "decoder", Real("encoder")); });
        yield return Case("decoder is text", Outcome.Refused, d => { Put(d, "encoder", Real("encoder")); Put(d, "decoder", Encoding.UTF8.GetBytes("x")); });
        yield return Case("decoder tensor of another shape", Outcome.Refused, d =>
        {
            Put(d, "encoder", Real("encoder"));
            var b = Real("decoder");
            Put(d, "decoder", EditHeader(b, h => { var k = h.Select(p => p.Key).First(k => k != "__metadata__" && h[k]!["shape"]!.AsArray().Count == 4); h[k]!["shape"]![0] = 1; }));
        });
        for (int seed = 0; seed < 3; seed++)
        {
            int s = seed;
            yield return Case($"decoder header bytes flipped, seed {s}", Outcome.Either, d =>
            {
                Put(d, "encoder", Real("encoder"));
                var b = Real("decoder");
                Put(d, "decoder", Flip(b, 400 + s, 2, 8, HeaderEnd(b)));
            });
        }
    }

    // ---- images ----

    private IEnumerable<HostileCase> Images()
    {
        const string F = "image";
        var png = ImageFiles.EncodePng(RgbImage.Filled(64, 64, 120, 80, 40));
        HostileCase Init(string name, Outcome expected, Func<string, string> make) => new(F, "init: " + name, expected, dir => Img2Img(dir, make(dir)));
        HostileCase Mask(string name, Outcome expected, Func<string, string> make) =>
            new(F, "mask: " + name, expected, dir => Img2Img(dir, Write(dir, "init.png", png), "--mask", make(dir)));

        yield return Init("valid", Outcome.Accepted, d => Write(d, "init.png", png));
        foreach (int at in new[] { 1, 8, 16, 33, 40, 60, png.Length / 2 })
            yield return Init($"PNG truncated at {at}", Outcome.Refused, d => Write(d, "init.png", png[..at]));
        // Every pixel is there, only a checksum or the end marker is missing or cut: Skia decodes it.
        foreach (int at in new[] { png.Length - 13, png.Length - 12, png.Length - 1 })
            yield return Init($"PNG truncated at {at}, after its pixel data", Outcome.Either, d => Write(d, "init.png", png[..at]));
        for (int seed = 0; seed < 6; seed++)
        {
            int s = seed;
            yield return Init($"PNG bytes flipped, seed {s}", Outcome.Either, d => Write(d, "init.png", Flip(png, 500 + s, 3, 8, png.Length)));
        }
        yield return Init("IHDR says 100000x100000", Outcome.Refused, d => Write(d, "init.png", WithSize(png, 100_000, 100_000)));
        yield return Init("IHDR says 0x0", Outcome.Refused, d => Write(d, "init.png", WithSize(png, 0, 0)));
        yield return Init("IHDR says 2^31-1 wide", Outcome.Refused, d => Write(d, "init.png", WithSize(png, int.MaxValue, 1)));
        yield return Init("8193x8193 of black (a bomb: a small file, past the 64-megapixel cap)", Outcome.Refused, d => Write(d, "init.png", Bomb(8193, 8193)));
        yield return Init("1x1", Outcome.Accepted, d => Write(d, "init.png", ImageFiles.EncodePng(RgbImage.Filled(1, 1, 9, 9, 9))));
        yield return Init("3000x2 (extreme aspect)", Outcome.Accepted, d => Write(d, "init.png", ImageFiles.EncodePng(RgbImage.Filled(3000, 2, 9, 9, 9))));
        yield return Init("JPEG truncated", Outcome.Refused, d => Write(d, "init.jpg", Jpeg()[..200]));
        yield return Init("JPEG", Outcome.Accepted, d => Write(d, "init.jpg", Jpeg()));
        yield return Init("text named .png", Outcome.Refused, d => Write(d, "init.png", Encoding.UTF8.GetBytes("not an image")));
        yield return Init("empty file", Outcome.Refused, d => Write(d, "init.png", []));
        yield return Init("/dev/zero", Outcome.Refused, _ => "/dev/zero");
        yield return Init("/dev/urandom", Outcome.Refused, _ => "/dev/urandom");
        yield return Init("a FIFO", Outcome.Refused, Fifo);
        yield return Init("a folder", Outcome.Refused, d => Directory.CreateDirectory(Path.Combine(d, "folder.png")).FullName);
        yield return Init("missing", Outcome.Refused, d => Path.Combine(d, "nope.png"));
        yield return Init("a symbolic link loop", Outcome.Refused, d =>
        {
            string a = Path.Combine(d, "a.png"), b = Path.Combine(d, "b.png");
            File.CreateSymbolicLink(a, b);
            File.CreateSymbolicLink(b, a);
            return a;
        });
        yield return Init("a checkpoint", Outcome.Refused, _ => _f.Model);
        yield return Mask("valid", Outcome.Accepted, d => DocTestKit.Mask(Path.Combine(d, "mask.png"), 64, 64, 8, 8, 40, 40));
        yield return Mask("another size (stretched)", Outcome.Accepted, d => DocTestKit.Mask(Path.Combine(d, "mask.png"), 31, 17, 2, 2, 20, 10));
        yield return Mask("all black (nothing to regenerate)", Outcome.Either, d => Write(d, "mask.png", ImageFiles.EncodePng(RgbImage.Filled(64, 64, 0, 0, 0))));
        yield return Mask("truncated", Outcome.Refused, d => Write(d, "mask.png", png[..50]));
        yield return Mask("/dev/zero", Outcome.Refused, _ => "/dev/zero");
        yield return Mask("a FIFO", Outcome.Refused, Fifo);
        yield return Mask("IHDR says 100000x100000", Outcome.Refused, d => Write(d, "mask.png", WithSize(png, 100_000, 100_000)));
    }

    /// <summary>The PNG with its IHDR width and height replaced (and the chunk's CRC made right again, so only the size is hostile).</summary>
    private static byte[] WithSize(byte[] png, int width, int height)
    {
        var copy = (byte[])png.Clone();
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(29), Crc32(copy.AsSpan(12, 17)));
        return copy;
    }

    /// <summary>CRC-32 as PNG chunks use it.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    private static byte[] Chunk(string type, ReadOnlySpan<byte> data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    /// <summary>A valid greyscale PNG of the given size, all black: a few hundred kilobytes that decode to the full size.</summary>
    private static byte[] Bomb(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth; colour type 0 (grey), no interlace
        using var idat = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(idat, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[1 + width];
            for (int y = 0; y < height; y++) z.Write(row);
        }
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. Chunk("IHDR", ihdr), .. Chunk("IDAT", idat.ToArray()), .. Chunk("IEND", [])];
    }

    private static byte[] Jpeg()
    {
        using var bitmap = new SkiaSharp.SKBitmap(64, 64);
        bitmap.Erase(new SkiaSharp.SKColor(200, 100, 50));
        using var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 90);
        return data.ToArray();
    }

    private static string Fifo(string dir)
    {
        string path = Path.Combine(dir, "fifo");
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", path)!;
        mkfifo.WaitForExit();
        return path;
    }

    // ---- parameters ----

    private IEnumerable<HostileCase> Parameters()
    {
        const string F = "parameters";
        HostileCase Case(string name, Outcome expected, params string[] extra) => new(F, name, expected, dir => Txt2Img(dir, extra));
        var refused = new (string Option, string[] Values)[]
        {
            ("--width", ["0", "-64", "7", "65", "8192", "99999999999", "abc", "NaN", "1e3", ""]),
            ("--height", ["0", "-8", "4100", "64.5"]),
            ("--steps", ["0", "-1", "1001", "1000000000", "x", "2.5"]),
            ("--cfg", ["NaN", "-1", "101", "Infinity", "1e309", "x"]),
            ("--seed", ["-2", "99999999999", "18446744073709551616", "x", "1.5"]),
            ("--subseed", ["-2", "x"]),
            ("--subseed-strength", ["-0.1", "1.5", "NaN"]),
            ("--seed-resize-from-width", ["-8", "100000", "x"]),
            ("--sampler", ["Euler z", "", "\u001b[2J", "DPM++ 9M", new string('x', 10_000)]),
            ("--schedule", ["linear", "karras2"]),
            ("--eta", ["NaN", "-1", "x"]),
            ("--rng", ["gpu", ""]),
            ("--batch", ["0", "65", "-1", "x"]),
            ("--batch-count", ["0", "-1", "100000", "x"]),
            ("--dtype", ["fp16", "int8"]),
            ("--vae-dtype", ["fp8"]),
            ("--kernels", ["cuda"]),
            ("--device", ["tpu", "cuda:99", "", "mps"]),
            ("--threads", ["0", "-1", "x", "99999999999"]),
            ("--prediction", ["x0"]),
            ("--preview-every", ["0", "-1"]),
            ("--config", ["/dev/zero", "/nonexistent/x.yaml", "/tmp"]),
            ("--tokenizer", ["/nonexistent", "/dev/null"]),
            ("--unknown-option", ["1"]),
        };
        foreach (var (option, values) in refused)
            foreach (var value in values)
                yield return Case($"{option} '{Printable(value)}'", Outcome.Refused, option, value);
        // An empty value means the default, as A1111's API treats an empty string (clients send "" for unset fields).
        foreach (var option in new[] { "--schedule", "--dtype", "--vae-dtype", "--kernels", "--prediction" })
            yield return Case($"{option} ''", Outcome.Accepted, option, "");

        var prompts = new (string Name, Outcome Expected, string Prompt)[]
        {
            ("empty", Outcome.Accepted, ""),
            ("control characters and newlines", Outcome.Accepted, "a cat\u001b[2J\r\nNegative prompt: forged\nSteps: 99, Sampler: X, CFG scale: 1"),
            ("right-to-left and zero-width characters", Outcome.Accepted, "a \u202Ecat\u200B\u2066 dog"),
            ("emoji and astral characters", Outcome.Accepted, "a 🐈 on a 𝔥𝔦𝔩𝔩"),
            ("1000 nested parentheses", Outcome.Refused, new string('(', 1000) + "cat" + new string(')', 1000)),
            ("1000 nested square brackets", Outcome.Accepted, new string('[', 1000) + "cat" + new string(']', 1000)),
            ("unbalanced brackets", Outcome.Accepted, "((((cat ]]] ) (dog:"),
            ("weight with 400 digits", Outcome.Refused, "(cat:" + new string('9', 400) + ")"),
            ("negative weight", Outcome.Accepted, "(cat:-2)"),
            ("31 BREAKs", Outcome.Accepted, string.Join(" BREAK ", Enumerable.Repeat("cat", 32))),
            ("2000 BREAKs", Outcome.Refused, string.Join(" BREAK ", Enumerable.Repeat("cat", 2001))),
            ("20000 characters", Outcome.Refused, new string('a', 20_000)),
            ("3000 tokens", Outcome.Refused, string.Join(' ', Enumerable.Repeat("cat", 3000))),
            ("LoRA tag of a missing file", Outcome.Either, "a cat <lora:nothing:1>"),
        };
        foreach (var (name, expected, prompt) in prompts)
        {
            yield return Case("prompt: " + name, expected, "--prompt", prompt);
            if (expected == Outcome.Refused) yield return Case("negative prompt: " + name, expected, "--negative", prompt);
        }

        yield return new(F, "--out in a missing folder", Outcome.Refused, dir => Txt2Img(dir, "--out", Path.Combine(dir, "no", "such", "out.png")));
        yield return new(F, "--out is a folder", Outcome.Refused, dir => Txt2Img(dir, "--out", Directory.CreateDirectory(Path.Combine(dir, "o")).FullName));
        yield return new(F, "--out name 300 bytes long", Outcome.Refused, dir => Txt2Img(dir, "--out", Path.Combine(dir, new string('n', 300) + ".png")));
        yield return new(F, "--out exists", Outcome.Refused, dir => Txt2Img(dir, "--out", Write(dir, "taken.png", [1, 2, 3])));
        yield return new(F, "--out through a file", Outcome.Refused, dir => Txt2Img(dir, "--out", Path.Combine(Write(dir, "file", [1]), "out.png")));
        yield return new(F, "--config of garbage YAML", Outcome.Refused, dir => Txt2Img(dir, "--config", WriteText(dir, "c.yaml", "model: [unclosed")));
        yield return new(F, "--config with zero channels", Outcome.Refused, dir => Txt2Img(dir, "--config",
            WriteText(dir, "c.yaml", _yaml.Replace("model_channels: ", "model_channels: 0 #"))));
        yield return new(F, "--config with a huge context", Outcome.Refused, dir => Txt2Img(dir, "--config",
            WriteText(dir, "c.yaml", _yaml.Replace("context_dim: ", "context_dim: 99999999999999 #"))));
        yield return new(F, "--config of a billion laughs", Outcome.Refused, dir => Txt2Img(dir, "--config", WriteText(dir, "c.yaml", BillionLaughs())));
        yield return new(F, "--config nested 10000 deep", Outcome.Refused, dir => Txt2Img(dir, "--config",
            WriteText(dir, "c.yaml", new string('[', 10_000) + new string(']', 10_000))));
        yield return new(F, "--tokenizer with a broken vocab.json", Outcome.Refused, dir =>
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, "clip")).FullName;
            File.WriteAllText(Path.Combine(folder, "vocab.json"), "{\"a\": ");
            File.Copy(Path.Combine(SharedData.ClipDir, "merges.txt"), Path.Combine(folder, "merges.txt"));
            return Txt2Img(dir, "--tokenizer", folder);
        });
        yield return new(F, "--tokenizer with merges of garbage", Outcome.Refused, dir =>
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, "clip")).FullName;
            File.Copy(Path.Combine(SharedData.ClipDir, "vocab.json"), Path.Combine(folder, "vocab.json"));
            File.WriteAllBytes(Path.Combine(folder, "merges.txt"), Flip(File.ReadAllBytes(Path.Combine(SharedData.ClipDir, "merges.txt")), 9, 5000, 0, 100_000));
            return Txt2Img(dir, "--tokenizer", folder);
        });
        yield return new(F, "valid DDIM at 6 steps", Outcome.Accepted, dir => Txt2Img(dir, "--sampler", "DDIM", "--steps", "6"));
        yield return new(F, "valid batch of 2 with variations", Outcome.Accepted, dir => Txt2Img(dir, "--batch", "2", "--subseed-strength", "0.3"));
        yield return new(F, "img2img strength 0", Outcome.Either, dir => Img2Img(dir, DocTestKit.Png(Path.Combine(dir, "i.png"), 64, 64, 1, 2, 3), "--strength", "0"));
        foreach (var strength in new[] { "-0.1", "1.01", "NaN" })
            yield return new(F, $"img2img strength {strength}", Outcome.Refused, dir => Img2Img(dir, DocTestKit.Png(Path.Combine(dir, "i.png"), 64, 64, 1, 2, 3), "--strength", strength));
        foreach (var (option, value) in new[] { ("--mask-blur", "-1"), ("--mask-blur", "100000"), ("--inpaint-padding", "-5"), ("--inpaint-area", "everywhere"), ("--masked-content", "lava") })
            yield return new(F, $"img2img {option} '{value}'", Outcome.Refused, dir =>
                Img2Img(dir, DocTestKit.Png(Path.Combine(dir, "i.png"), 64, 64, 1, 2, 3), "--mask", DocTestKit.Mask(Path.Combine(dir, "m.png"), 64, 64, 0, 0, 8, 8), option, value));
        yield return new(F, "info on a PNG whose text chunk inflates to 100 MB", Outcome.Refused, dir => ["info", Write(dir, "bomb.png", TextBomb())]);
        yield return new(F, "info on a PNG with a forged parameters chunk", Outcome.Accepted, dir => ["info", Write(dir, "forged.png",
            ImageFiles.EncodePng(RgbImage.Filled(8, 8, 1, 2, 3), new Dictionary<string, string> { ["parameters"] = "a\u001b[2J cat\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 8x8" }))]);
        yield return new(F, "a mistyped command", Outcome.Refused, _ => ["txt2imgg"]);
        yield return new(F, "no arguments to doc", Outcome.Refused, _ => ["doc", "generate"]);
    }

    private static string WriteText(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>YAML aliases that expand to 10⁹ elements if a parser follows them blindly.</summary>
    private static string BillionLaughs()
    {
        var yaml = new StringBuilder("a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (int i = 1; i < 10; i++)
            yaml.Append($"a{i}: &a{i} [{string.Join(",", Enumerable.Repeat($"*a{i - 1}", 10))}]\n");
        yaml.Append("model:\n  params:\n    unet_config:\n      params:\n        channel_mult: *a9\n");
        return yaml.ToString();
    }

    /// <summary>A PNG with a zTXt chunk of 100 MB of zeros compressed to about 100 kB.</summary>
    private static byte[] TextBomb()
    {
        var png = ImageFiles.EncodePng(RgbImage.Filled(8, 8, 1, 2, 3));
        using var compressed = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 100; i++) z.Write(zeros);
        }
        byte[] data = [.. Encoding.Latin1.GetBytes("parameters"), 0, 0, .. compressed.ToArray()];
        var chunk = Chunk("zTXt", data);
        // After the signature and IHDR (8 + 25 bytes).
        return [.. png[..33], .. chunk, .. png[33..]];
    }

    private static string Printable(string value) =>
        value.Length > 20 ? value[..20] + "…" : string.Concat(value.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

    // ---- documents ----

    private IEnumerable<HostileCase> Documents()
    {
        const string F = "document";
        HostileCase Case(string name, Outcome expected, Action<string>? damage, Func<string, string, string[]> command) => new(F, name, expected, dir =>
        {
            string doc = Path.Combine(dir, "doc");
            CopyFolder(_document, doc);
            damage?.Invoke(doc);
            return command(dir, doc);
        }, Watched: "doc");
        string[] Render(string dir, string doc) => ["doc", "render", doc, "--out", Path.Combine(dir, "out.png")];
        string[] Generate(string dir, string doc, params string[] extra) =>
            ["doc", "generate", doc, "--model", _f.Model, "--tokenizer", SharedData.ClipDir, "--prompt", "a harbour", "--steps", "1", "--seed", "3", "--threads", "1", .. extra];
        string json(string doc) => Path.Combine(doc, "document.json");
        string db(string doc) => Path.Combine(doc, "history.db");

        yield return Case("valid render", Outcome.Accepted, null, Render);
        yield return Case("valid generate", Outcome.Accepted, null, (d, doc) => Generate(d, doc));
        var jsonDamage = new (string Name, Func<string, string> Edit)[]
        {
            ("document.json truncated", t => t[..(t.Length / 2)]),
            ("document.json empty", _ => ""),
            ("document.json an array", _ => "[]"),
            ("document.json width negative", t => t.Replace("\"width\": 64", "\"width\": -64")),
            ("document.json width huge", t => t.Replace("\"width\": 64", "\"width\": 99999999")),
            ("document.json opacity 7", t => t.Replace("\"opacity\": 1", "\"opacity\": 7")),
            ("document.json image hash of a missing image", t => System.Text.RegularExpressions.Regex.Replace(t, "\"image\": \"[0-9a-f]+\"", "\"image\": \"" + new string('0', 64) + "\"")),
            ("document.json image path escaping the folder", t => System.Text.RegularExpressions.Regex.Replace(t, "\"image\": \"[0-9a-f]+\"", "\"image\": \"../../../../etc/passwd\"")),
            ("document.json nested 5000 deep", _ => new string('[', 5000) + new string(']', 5000)),
            ("document.json version 99", t => t.Replace("\"version\": 1", "\"version\": 99")),
        };
        foreach (var (name, edit) in jsonDamage)
        {
            yield return Case(name + " (render)", Outcome.Refused, doc => File.WriteAllText(json(doc), edit(File.ReadAllText(json(doc)))), Render);
            yield return Case(name + " (generate)", Outcome.Refused, doc => File.WriteAllText(json(doc), edit(File.ReadAllText(json(doc)))), (d, doc) => Generate(d, doc));
        }
        foreach (double at in new[] { 0.0, 0.1, 0.5, 0.9 })
            yield return Case($"history.db truncated at {at:P0}", Outcome.Refused, doc => { var b = File.ReadAllBytes(db(doc)); File.WriteAllBytes(db(doc), b[..(int)(b.Length * at)]); },
                (d, doc) => ["doc", "history", doc]);
        for (int seed = 0; seed < 4; seed++)
        {
            int s = seed;
            yield return Case($"history.db bytes flipped, seed {s}", Outcome.Either, doc => { var b = File.ReadAllBytes(db(doc)); File.WriteAllBytes(db(doc), Flip(b, 600 + s, 8, 100, b.Length)); },
                (d, doc) => ["doc", "undo", doc]);
        }
        var sql = new (string Name, string Statement)[]
        {
            ("parameters not JSON", "UPDATE operations SET parameters = 'not json'"),
            ("state document garbage", "UPDATE states SET document = 'garbage'"),
            ("state pointing nowhere", "UPDATE operations SET state_after = 999"),
            ("head pointing nowhere", "UPDATE meta SET value = '999' WHERE key = 'head'"),
            ("time garbage", "UPDATE operations SET time = 'yesterday'"),
            ("duration text", "UPDATE operations SET duration_ms = 'long'"),
            ("outputs not JSON", "UPDATE operations SET outputs = '[1,'"),
            ("tables dropped", "DROP TABLE operations"),
        };
        foreach (var (name, statement) in sql)
            foreach (var command in new[] { "history", "undo", "verify" })
                // A duration is informational: verify may pass it.
                yield return Case($"history.db {name} ({command})", command == "verify" && name != "duration text" ? Outcome.Refused : Outcome.Either, doc => Sql(db(doc), statement),
                    (d, doc) => ["doc", command, doc]);
        yield return Case("an image deleted", Outcome.Refused, doc => File.Delete(Directory.EnumerateFiles(Path.Combine(doc, "images"), "*", SearchOption.AllDirectories).First()), Render);
        yield return Case("an image altered", Outcome.Refused, doc => File.AppendAllText(Directory.EnumerateFiles(Path.Combine(doc, "images"), "*", SearchOption.AllDirectories).First(), "x"), Render);
        var commands = new (string Name, Func<string, string, string[]> Command)[]
        {
            ("unknown layer", (d, doc) => ["doc", "layer", "hide", doc, "L99"]),
            ("layer id with a path", (d, doc) => ["doc", "layer", "rename", doc, "../L1", "x"]),
            ("opacity 2", (d, doc) => ["doc", "layer", "opacity", doc, "L1", "2"]),
            ("opacity NaN", (d, doc) => ["doc", "layer", "opacity", doc, "L1", "NaN"]),
            ("move far away", (d, doc) => ["doc", "layer", "move", doc, "L2", "--x", "99999999999"]),
            ("scale 0", (d, doc) => ["doc", "layer", "move", doc, "L2", "--scale", "0"]),
            ("scale 10000", (d, doc) => ["doc", "layer", "move", doc, "L2", "--scale", "10000"]),
            ("paint outside the layer", (d, doc) => ["doc", "layer", "paint", doc, "L2", "--image", DocTestKit.Png(Path.Combine(d, "p.png"), 8, 8, 1, 1, 1), "--x", "100", "--y", "0"]),
            ("paint with a FIFO", (d, doc) => ["doc", "layer", "paint", doc, "L2", "--image", Fifo(d), "--x", "0", "--y", "0"]),
            ("add-layer /dev/zero", (d, doc) => ["doc", "add-layer", doc, "/dev/zero"]),
            ("add-layer of a bomb", (d, doc) => ["doc", "add-layer", doc, Write(d, "big.png", Bomb(8193, 8193))]),
            ("erase with a mask of another size", (d, doc) => ["doc", "erase", doc, "--layer", "L1", "--mask", DocTestKit.Mask(Path.Combine(d, "m.png"), 32, 32, 0, 0, 8, 8)]),
            ("resize to nothing", (d, doc) => ["doc", "resize", doc, "--right", "-64"]),
            ("resize past the size limit", (d, doc) => ["doc", "resize", doc, "--right", "99999999"]),
            ("region outside", (d, doc) => Generate(d, doc, "--region", "60,60,64,64")),
            ("region garbage", (d, doc) => Generate(d, doc, "--region", "a,b")),
            ("region negative", (d, doc) => Generate(d, doc, "--region", "-8,0,16,16")),
            ("variations 0", (d, doc) => Generate(d, doc, "--variations", "0")),
            ("variations 1000", (d, doc) => Generate(d, doc, "--variations", "1000")),
            ("rerun step 0", (d, doc) => ["doc", "rerun", doc, "0"]),
            ("rerun step 99", (d, doc) => ["doc", "rerun", doc, "99"]),
            ("rerun a non-generation step", (d, doc) => ["doc", "rerun", doc, "1"]),
            ("pick an unknown candidate", (d, doc) => ["doc", "pick", doc, "L7"]),
            ("redo with nothing undone", (d, doc) => ["doc", "redo", doc]),
            ("new over an existing document", (d, doc) => ["doc", "new", doc, "--size", "64x64"]),
            ("new of size 0x0", (d, doc) => ["doc", "new", Path.Combine(d, "other"), "--size", "0x0"]),
            ("new of size 99999x99999", (d, doc) => ["doc", "new", Path.Combine(d, "other"), "--size", "99999x99999"]),
            ("a document that is a file", (d, doc) => ["doc", "render", Write(d, "file", [1]), "--out", Path.Combine(d, "out.png")]),
        };
        foreach (var (name, command) in commands)
            yield return Case(name, Outcome.Refused, null, command);
    }

    private static void Sql(string database, string statement)
    {
        using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Pooling=False;Foreign Keys=False");
        db.Open();
        using var command = db.CreateCommand();
        command.CommandText = statement;
        command.ExecuteNonQuery();
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
