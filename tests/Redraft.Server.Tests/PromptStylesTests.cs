using Redraft.Server.Api;

namespace Redraft.Server.Tests;

/// <summary>
/// Reading <c>styles.csv</c> and applying styles as AUTOMATIC1111 v1.10 does (<c>modules/styles.py</c> on Python's
/// <c>csv</c> module). The expected records were checked against CPython's
/// <c>csv.reader(io.StringIO(text, newline=''), skipinitialspace=True)</c>.
/// </summary>
public sealed class PromptStylesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("redraft-styles-").FullName;

    public void Dispose() => Directory.Delete(_folder, true);

    [Theory]
    [InlineData("name,prompt,negative_prompt\r\nlit,\"{prompt}, (glowing:1.1)\",blurry\r\n", "name|prompt|negative_prompt;lit|{prompt}, (glowing:1.1)|blurry")]
    [InlineData("name, prompt, negative_prompt\n  a,  b ,c\n", "name|prompt|negative_prompt;a|b |c")]
    [InlineData("name,prompt\n\"x, y\",\"line one\nline two \"\"q\"\"\"\n", "name|prompt;x, y|line one\nline two \"q\"")]
    [InlineData("name,prompt\n\"a\"b,c\"d\n", "name|prompt;ab|c\"d")]
    [InlineData("name,prompt\n\n\r\nx,y\n   \n", "name|prompt;[];[];x|y;")]
    [InlineData("name,prompt\rx,y\rz,w", "name|prompt;x|y;z|w")]
    [InlineData("name,prompt\nx,\"never closed\nstill", "name|prompt;x|never closed\nstill")]
    [InlineData("name,prompt\nx,", "name|prompt;x|")]
    public void Csv_ReadsAsPythonsCsvModule(string text, string expected)
    {
        var records = StylesCsv.Parse(text);
        // Records joined with ';', fields with '|'; a blank line is an empty record ([]), a line of spaces one empty field.
        string got = string.Join(";", records.Select(r => r.Count == 0 ? "[]" : string.Join("|", r)));
        Assert.Equal(expected, got);
    }

    [Fact]
    public void Read_BomCommentsShortRowsLegacyColumnAndRedefinition()
    {
        string path = Write("styles.csv",
            "\uFEFFname,prompt,negative_prompt\n# a comment,x,y\nfirst,one,neg one\nshort,only prompt\n\nsecond,two,\nfirst,one again,neg again\n");
        var styles = PromptStyles.Read(path);
        Assert.Equal(
            [new("first", "one again", "neg again"), new("short", "only prompt", null), new("second", "two", "")],
            styles);

        string legacy = Write("legacy.csv", "name,text\nold,old text\n");
        Assert.Equal([new PromptStyles.Style("old", "old text", "")], PromptStyles.Read(legacy));
    }

    [Theory]
    [InlineData("foo,bar\nx,y\n")]
    [InlineData("name,negative_prompt\nx,y\n")]
    public void Read_RowsWithoutTheColumnsA1111Needs_AreAOneLineError(string text)
    {
        string path = Write("bad.csv", text);
        var e = Assert.Throws<RedraftInputException>(() => PromptStyles.Read(path));
        Assert.Contains("name,prompt,negative_prompt", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Apply_PlaceholderAppendAndUnknownNames()
    {
        string path = Write("styles.csv", "name,prompt,negative_prompt\nlit,\"{prompt}, (glowing:1.1)\",blurry\npainted,oil painting,\"lowres, {prompt}\"\ntwice,{prompt} and {prompt},\n");
        var styles = new PromptStyles(path);

        // {prompt} takes the prompt as it is; appending strips both parts (Python's strip) and joins with ", ".
        Assert.Equal(" a cat , (glowing:1.1)", styles.ApplyToPrompt(" a cat ", ["lit"]));
        Assert.Equal("a cat , (glowing:1.1), oil painting", styles.ApplyToPrompt(" a cat ", ["lit", "painted"]));
        Assert.Equal("lowres, dark, blurry", styles.ApplyToNegative("dark", ["lit", "painted"]));
        Assert.Equal("x and x", styles.ApplyToPrompt("x", ["twice"]));
        // An unknown name is A1111's empty style: it only strips (U+001F is whitespace to Python, not to .NET).
        Assert.Equal("a cat", styles.ApplyToPrompt("\u001f a cat \n", ["no such style"]));
        Assert.Equal("oil painting", styles.ApplyToPrompt("", ["painted"]));
        // No styles: the prompt is untouched.
        Assert.Equal(" a cat ", styles.ApplyToPrompt(" a cat ", []));
    }

    [Fact]
    public void All_ReadsTheFileAgainWhenItChanges_MissingIsNone()
    {
        string path = Path.Combine(_folder, "styles.csv");
        var styles = new PromptStyles(path);
        Assert.Empty(styles.All());
        File.WriteAllText(path, "name,prompt\na,b\n");
        Assert.Equal("a", Assert.Single(styles.All()).Name);
        File.WriteAllText(path, "name,prompt\na,b\nc,d\n");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(2, styles.All().Count);
        File.Delete(path);
        Assert.Empty(styles.All());
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }
}
