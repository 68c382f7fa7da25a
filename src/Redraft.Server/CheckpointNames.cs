using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Redraft.Server;

/// <summary>
/// How AUTOMATIC1111 v1.10 finds the checkpoint a client names (its <c>sd_models.CheckpointInfo.ids</c> and
/// <c>get_closet_checkpoint_match</c>), over the server's own checkpoint list. In order:
/// <list type="number">
/// <item>an exact alias: the title, the relative name, the model name, the file name without extension, the old
/// 8-digit hash and <c>name [old hash]</c>, and once the file's sha256 is known the short (10) and full hash and
/// <c>name [short hash]</c>;</item>
/// <item>(Redraft's addition) a 10- or 64-digit hash of a file not hashed yet: the files are hashed to find it —
/// A1111 finds only hashes it has cached;</item>
/// <item>the shortest title that contains the text;</item>
/// <item>the shortest title that contains the text without a trailing <c>[…]</c>.</item>
/// </list>
/// Only listed checkpoints can match, so a name never reaches a path of its own.
/// </summary>
internal static partial class CheckpointNames
{
    /// <summary>The checkpoint <paramref name="asked"/> names, or null.</summary>
    /// <param name="asked">What the client sent.</param>
    /// <param name="all">The checkpoints, in list order.</param>
    /// <param name="knownSha256">A checkpoint's sha256 if already computed.</param>
    /// <param name="sha256">A checkpoint's sha256, computed if needed.</param>
    public static ModelFolder.Checkpoint? Match(string asked, IReadOnlyList<ModelFolder.Checkpoint> all,
        Func<string, string?> knownSha256, Func<string, string> sha256)
    {
        if (string.IsNullOrEmpty(asked)) return null;
        // The old hash needs a 64 KB read per file: only when the text can be one or carry one.
        bool legacy = IsHex(asked, 8) || asked.EndsWith(']');
        foreach (var c in all)
            if (Aliases(c, knownSha256(c.Path), legacy ? LegacyHash(c.Path) : null).Contains(asked, StringComparer.Ordinal))
                return c;
        if (IsHex(asked, 10) || IsHex(asked, 64))
        {
            var byHash = all.FirstOrDefault(c => File.Exists(c.Path) && sha256(c.Path).StartsWith(asked, StringComparison.OrdinalIgnoreCase));
            if (byHash is not null) return byHash;
        }
        string Title(ModelFolder.Checkpoint c) => ModelFolder.Title(c, knownSha256(c.Path));
        var found = Shortest(all.Where(c => Title(c).Contains(asked, StringComparison.Ordinal)), Title);
        if (found is not null) return found;
        string stripped = TrailingChecksum().Replace(asked, "");
        return stripped.Length == 0 ? null : Shortest(all.Where(c => Title(c).Contains(stripped, StringComparison.Ordinal)), Title);
    }

    /// <summary>A1111's exact aliases of <paramref name="c"/> (<c>CheckpointInfo.ids</c>).</summary>
    public static IEnumerable<string> Aliases(ModelFolder.Checkpoint c, string? sha256, string? legacyHash)
    {
        string stem = Path.GetFileNameWithoutExtension(c.Name);
        yield return ModelFolder.Title(c, sha256);
        yield return c.Name;
        yield return c.ModelName;
        yield return stem;
        if (legacyHash is not null)
        {
            yield return legacyHash;
            yield return $"{c.Name} [{legacyHash}]";
        }
        if (sha256 is not null)
        {
            string shortHash = sha256[..10];
            yield return shortHash;
            yield return sha256;
            yield return $"{c.Name} [{shortHash}]";
            yield return $"{stem} [{shortHash}]";
        }
    }

    /// <summary>
    /// A1111's old model hash (<c>sd_models.model_hash</c>): the first 8 hex digits of the sha256 of the 64 KB at
    /// offset 1 MB. Null for a folder or a missing file.
    /// </summary>
    public static string? LegacyHash(string path)
    {
        if (!File.Exists(path)) return null;
        using var file = File.OpenRead(path);
        var block = new byte[0x10000];
        int read = 0;
        if (file.Length > 0x100000)
        {
            file.Position = 0x100000;
            read = file.ReadAtLeast(block, block.Length, throwOnEndOfStream: false);
        }
        return Convert.ToHexStringLower(SHA256.HashData(block.AsSpan(0, read)))[..8];
    }

    private static ModelFolder.Checkpoint? Shortest(IEnumerable<ModelFolder.Checkpoint> matches, Func<ModelFolder.Checkpoint, string> title) =>
        matches.OrderBy(c => title(c).Length).FirstOrDefault();

    private static bool IsHex(string text, int length) => text.Length == length && text.All(Uri.IsHexDigit);

    [GeneratedRegex(@"\s*\[[^]]+]\s*$")]
    private static partial Regex TrailingChecksum();
}
