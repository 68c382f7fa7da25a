using Redraft.Diffusion.Text;

namespace Redraft.Diffusion.Tests.Text;

public sealed class TokenizerLocatorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("redraft-locator-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string MakeVocabDir(string relative, bool withMerges = true)
    {
        string dir = Path.Combine(_root, relative);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "vocab.json"), "{}");
        if (withMerges)
        {
            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
        }

        return dir;
    }

    private Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return name => map.TryGetValue(name, out string? value) ? value : null;
    }

    private string Home => Path.Combine(_root, "home");

    private string HfSnapshot(string name) =>
        Path.Combine("home", ".cache", "huggingface", "hub", "models--openai--clip-vit-large-patch14", "snapshots", name);

    [Fact]
    public void Explicit_directory_wins()
    {
        string explicitDir = MakeVocabDir("explicit");
        MakeVocabDir("model/tokenizer");
        string found = TokenizerLocator.Locate(explicitDir, Path.Combine(_root, "model"), Env(("HOME", Home)));
        Assert.Equal(explicitDir, found);
    }

    [Fact]
    public void Explicit_directory_without_the_files_is_an_error_naming_it()
    {
        string explicitDir = MakeVocabDir("explicit", withMerges: false);
        MakeVocabDir(Path.Combine("home", ".redraft", "clip"));
        var e = Assert.Throws<RedraftInputException>(() => TokenizerLocator.Locate(explicitDir, null, Env(("HOME", Home))));
        Assert.Contains(explicitDir, e.Message);
        Assert.Contains("merges.txt", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Explicit_directory_that_does_not_exist_is_an_error()
    {
        string missing = Path.Combine(_root, "nope");
        var e = Assert.Throws<RedraftInputException>(() => TokenizerLocator.Locate(missing, null, Env(("HOME", Home))));
        Assert.Contains(missing, e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Model_tokenizer_folder_comes_before_the_caches()
    {
        string modelTok = MakeVocabDir("model/tokenizer");
        MakeVocabDir(HfSnapshot("abc"));
        MakeVocabDir(Path.Combine("home", ".redraft", "clip"));
        Assert.Equal(modelTok, TokenizerLocator.Locate(null, Path.Combine(_root, "model"), Env(("HOME", Home))));
    }

    [Fact]
    public void Hugging_face_cache_snapshot_is_found_under_home()
    {
        MakeVocabDir(Path.Combine(HfSnapshot("empty")), withMerges: false);
        string snapshot = MakeVocabDir(HfSnapshot("abc123"));
        MakeVocabDir(Path.Combine("home", ".redraft", "clip"));
        Assert.Equal(snapshot, TokenizerLocator.Locate(null, Path.Combine(_root, "model-without-tokenizer"), Env(("HOME", Home))));
    }

    [Fact]
    public void Hf_home_moves_the_cache()
    {
        string snapshot = MakeVocabDir(Path.Combine("hf", "hub", "models--openai--clip-vit-large-patch14", "snapshots", "s1"));
        Assert.Equal(snapshot, TokenizerLocator.Locate(null, null, Env(("HOME", Home), ("HF_HOME", Path.Combine(_root, "hf")))));
    }

    [Fact]
    public void Redraft_home_defaults_to_dot_redraft_in_home()
    {
        string clip = MakeVocabDir(Path.Combine("home", ".redraft", "clip"));
        Assert.Equal(clip, TokenizerLocator.Locate(null, null, Env(("HOME", Home))));
    }

    [Fact]
    public void Redraft_home_variable_is_honoured()
    {
        string clip = MakeVocabDir(Path.Combine("custom", "clip"));
        MakeVocabDir(Path.Combine("home", ".redraft", "clip"));
        Assert.Equal(clip, TokenizerLocator.Locate(null, null, Env(("HOME", Home), ("REDRAFT_HOME", Path.Combine(_root, "custom")))));
    }

    [Fact]
    public void Nothing_found_lists_every_place_and_the_fix()
    {
        string model = Path.Combine(_root, "model");
        var e = Assert.Throws<RedraftInputException>(() => TokenizerLocator.Locate(null, model, Env(("HOME", Home))));
        string msg = e.Message;
        Assert.Contains("vocab.json", msg);
        Assert.Contains("merges.txt", msg);
        Assert.Contains(Path.Combine(model, "tokenizer"), msg);
        Assert.Contains(Path.Combine(Home, ".cache", "huggingface", "hub", "models--openai--clip-vit-large-patch14", "snapshots", "*"), msg);
        Assert.Contains(Path.Combine(Home, ".redraft", "clip"), msg);
        Assert.Contains("--tokenizer DIR", msg);
        Assert.DoesNotContain("\n", msg);
    }

    [Fact]
    public void Without_a_model_folder_it_is_not_listed()
    {
        var e = Assert.Throws<RedraftInputException>(() => TokenizerLocator.Locate(null, null, Env(("HOME", Home))));
        string hub = Path.Combine(Home, ".cache", "huggingface", "hub");
        Assert.Contains("searched: " + hub, e.Message);
    }

    [SharedDataFact]
    public void Located_folder_loads()
    {
        string found = TokenizerLocator.Locate(SharedData.ClipDir, null, Env());
        Assert.Equal(49408, ClipTokenizer.Load(found).VocabularySize);
    }
}
