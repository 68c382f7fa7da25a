using Redraft.Diffusion.Text;

namespace Redraft.Diffusion.Tests.Text;

public sealed class UnicodeNfcTests
{
    // Expected values are Python's unicodedata.normalize("NFC", ...) (UCD 14).
    [Theory]
    [InlineData("plain ascii, (weights:1.2)", "plain ascii, (weights:1.2)")]
    [InlineData("\u0063\u0061\u0066\u0065\u0301", "\u0063\u0061\u0066\u00e9")]
    [InlineData("\u0065\u0301\u0323", "\u1eb9\u0301")]
    [InlineData("\u0065\u0323\u0301", "\u1eb9\u0301")]
    [InlineData("\u1e0b\u0323", "\u1e0d\u0307")]
    [InlineData("\u0061\u0308\u0304", "\u01df")]
    [InlineData("\u1100\u1161\u11a8", "\uac01")]
    [InlineData("\uac00\u11a8", "\uac01")]
    [InlineData("\u212b", "\u00c5")]
    [InlineData("\uf900", "\u8c48")]
    [InlineData("\u0344", "\u0308\u0301")]
    [InlineData("\u0041\u030a\u0301", "\u01fa")]
    [InlineData("\u00c5\u0327", "\u00c5\u0327")]
    [InlineData("\u0f73", "\u0f71\u0f72")]
    [InlineData("\u0078\u0301\u0301", "\u0078\u0301\u0301")]
    [InlineData("\u0301\u0061", "\u0301\u0061")]
    [InlineData("\u0020\u0301", "\u0020\u0301")]
    [InlineData("emoji \U0001F3A8 caf\u0065\u0301", "emoji \U0001F3A8 caf\u00e9")]
    public void Matches_python_unicodedata(string input, string expected)
    {
        Assert.Equal(expected, UnicodeNfc.Normalize(input));
    }
}
