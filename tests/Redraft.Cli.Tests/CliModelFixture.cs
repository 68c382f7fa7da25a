using Redraft.Diffusion.Tests;

namespace Redraft.Cli.Tests;

/// <summary>A tiny model written by <c>redraft make-model</c> itself (both layouts) in a temp folder shared by the CLI tests.</summary>
public sealed class CliModelFixture : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-cli-").FullName;
    public string Model => Path.Combine(Folder, "tiny.safetensors");
    public string DiffusersModel => Path.Combine(Folder, "tiny-diffusers");
    public RedraftProcess.Result MakeSingle { get; }
    public RedraftProcess.Result MakeDiffusers { get; }

    public CliModelFixture()
    {
        MakeSingle = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "3", "--out", Model);
        MakeDiffusers = RedraftProcess.Run("make-model", "--preset", "tiny", "--seed", "3", "--out", DiffusersModel, "--layout", "diffusers");
    }

    public string NewPath(string name) => Path.Combine(Folder, $"{Guid.NewGuid():N}-{name}");

    /// <summary>Common generation arguments for the tiny model at 64×64.</summary>
    /// <summary>Options in <paramref name="extra"/> (pairs) replace the defaults of the same name.</summary>
    public string[] Generate(string command, string output, params string[] extra)
    {
        var args = new List<string>
        {
            command, "--model", Model, "--prompt", "a lighthouse at dusk, (oil painting:1.2)", "--negative", "blurry",
            "--width", "64", "--height", "64", "--steps", "2", "--seed", "42", "--threads", "1",
            "--tokenizer", SharedData.ClipDir, "--out", output,
        };
        for (int i = 0; i + 1 < extra.Length; i += 2)
        {
            int at = args.IndexOf(extra[i]);
            if (at >= 0) args[at + 1] = extra[i + 1];
            else args.AddRange([extra[i], extra[i + 1]]);
        }
        if (extra.Length % 2 == 1) args.Add(extra[^1]);
        return args.ToArray();
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class CliModelCollection : ICollectionFixture<CliModelFixture>
{
    public const string Name = "cli tiny model";
}
