using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Networks;

namespace Redraft.Diffusion.Tests.Networks;

/// <summary>Missing or wrong TAESD files give one-line <see cref="RedraftInputException"/>s saying what to do.</summary>
public sealed class TaesdLoadingErrorTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("redraft-taesd-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return name => map.TryGetValue(name, out string? value) ? value : null;
    }

    private string MakeFolder(string relative, bool encoder = true, bool decoder = true)
    {
        string dir = Path.Combine(root, relative);
        Directory.CreateDirectory(dir);
        if (encoder) File.WriteAllText(Path.Combine(dir, TinyAutoencoder.EncoderFileName), "x");
        if (decoder) File.WriteAllText(Path.Combine(dir, TinyAutoencoder.DecoderFileName), "x");
        return dir;
    }

    private static void AssertOneLine(Exception e) => Assert.DoesNotContain('\n', e.Message);

    [Fact]
    public void MissingFileNamesThePathAndTheExpectedFile()
    {
        string dir = MakeFolder("half", decoder: false);
        var e = Assert.Throws<RedraftInputException>(() => TinyAutoencoder.LoadFromFolder(dir));
        Assert.Contains(Path.Combine(dir, TinyAutoencoder.DecoderFileName), e.Message);
        Assert.Contains("decoder file not found", e.Message);
        AssertOneLine(e);

        e = Assert.Throws<RedraftInputException>(() => TinyAutoencoder.Load(Path.Combine(root, "nope.safetensors"), Path.Combine(dir, TinyAutoencoder.EncoderFileName)));
        Assert.Contains("encoder file not found", e.Message);
        Assert.Contains(TinyAutoencoder.EncoderFileName, e.Message);
    }

    [Fact]
    public void MissingFolderSaysWhatItMustHold()
    {
        var e = Assert.Throws<RedraftInputException>(() => TinyAutoencoder.LoadFromFolder(Path.Combine(root, "absent")));
        Assert.Contains("absent", e.Message);
        Assert.Contains(TinyAutoencoder.EncoderFileName, e.Message);
        Assert.Contains(TinyAutoencoder.DecoderFileName, e.Message);
        AssertOneLine(e);
    }

    [Fact]
    public void AFileThatIsNotSafetensorsIsAnInputError()
    {
        string dir = MakeFolder("junk");
        var e = Assert.Throws<CheckpointFormatException>(() => TinyAutoencoder.LoadFromFolder(dir));
        Assert.Contains(TinyAutoencoder.EncoderFileName, e.Message);
        AssertOneLine(e);
    }

    [SharedDataFact]
    public void SwappedFilesReportTheMissingKeyAndWhatTheFileShouldBe()
    {
        string real = Path.Combine(SharedData.DataDir, "taesd");
        var e = Assert.Throws<CheckpointFormatException>(() => TinyAutoencoder.Load(
            Path.Combine(real, TinyAutoencoder.DecoderFileName), Path.Combine(real, TinyAutoencoder.EncoderFileName)));
        Assert.Contains("missing tensor 0.weight", e.Message);
        Assert.Contains("not a TAESD encoder file", e.Message);
        AssertOneLine(e);
    }

    [Fact]
    public void LocatorPrefersTheExplicitFolderAndDoesNotFallBack()
    {
        string explicitDir = MakeFolder("explicit");
        MakeFolder(Path.Combine("home", ".redraft", "taesd"));
        Assert.Equal(explicitDir, TaesdLocator.Locate(explicitDir, Env(("HOME", Path.Combine(root, "home")))));

        string partial = MakeFolder("partial", encoder: false);
        var e = Assert.Throws<RedraftInputException>(() => TaesdLocator.Locate(partial, Env(("HOME", Path.Combine(root, "home")))));
        Assert.Contains(partial, e.Message);
        Assert.Contains($"lacks {TinyAutoencoder.EncoderFileName}", e.Message);
        AssertOneLine(e);
    }

    [Fact]
    public void LocatorSearchesRedraftHomeThenTheDefaultHome()
    {
        string inHome = MakeFolder(Path.Combine("home", ".redraft", "taesd"));
        Assert.Equal(inHome, TaesdLocator.Locate(null, Env(("HOME", Path.Combine(root, "home")))));
        string custom = MakeFolder(Path.Combine("custom", "taesd"));
        Assert.Equal(custom, TaesdLocator.Locate(" ", Env(("HOME", Path.Combine(root, "home")), ("REDRAFT_HOME", Path.Combine(root, "custom")))));
    }

    [Fact]
    public void LocatorFailureSaysWhereToPutWhichFiles()
    {
        string home = Path.Combine(root, "empty-home");
        var e = Assert.Throws<RedraftInputException>(() => TaesdLocator.Locate(null, Env(("HOME", home))));
        string expected = Path.Combine(home, ".redraft", "taesd");
        Assert.Contains($"into {expected}", e.Message);
        Assert.Contains(TinyAutoencoder.EncoderFileName, e.Message);
        Assert.Contains(TinyAutoencoder.DecoderFileName, e.Message);
        AssertOneLine(e);

        MakeFolder(Path.Combine("empty-home", ".redraft", "taesd"), encoder: false);
        e = Assert.Throws<RedraftInputException>(() => TaesdLocator.Locate(null, Env(("HOME", home))));
        Assert.Contains($"lacks {TinyAutoencoder.EncoderFileName}", e.Message);
    }
}
