using System.Text;

namespace Redraft.Diffusion.Text;

/// <summary>
/// Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical composition).
/// </summary>
/// <remarks>
/// The engine runs with <c>InvariantGlobalization</c>, in which <see cref="string.Normalize()"/> leaves text
/// unchanged; CLIP's tokenizers apply NFC first (so <c>"e\u0301"</c> encodes like <c>"é"</c>), hence this
/// small self-contained implementation over the tables in <see cref="UnicodeNfcData"/>.
/// </remarks>
internal static class UnicodeNfc
{
    // Hangul syllables are composed/decomposed arithmetically (Unicode §3.12).
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<long, int> Compose = BuildCompose();
    private static readonly Dictionary<int, int[]> Decompose = BuildDecompose();

    /// <summary>Returns the NFC form of <paramref name="text"/>.</summary>
    public static string Normalize(string text)
    {
        // Everything below U+0300 is already NFC and cannot combine with what precedes it.
        int i = 0;
        while (i < text.Length && text[i] < 0x300)
        {
            i++;
        }

        if (i == text.Length)
        {
            return text;
        }

        var cps = new List<int>(text.Length + 8);
        for (int k = 0; k < text.Length; k++)
        {
            int cp = text[k];
            if (char.IsHighSurrogate(text[k]) && k + 1 < text.Length && char.IsLowSurrogate(text[k + 1]))
            {
                cp = char.ConvertToUtf32(text[k], text[k + 1]);
                k++;
            }

            AppendDecomposed(cp, cps);
        }

        ReorderMarks(cps);
        ComposeInPlace(cps);

        var sb = new StringBuilder(text.Length);
        foreach (int cp in cps)
        {
            if (cp < 0x10000)
            {
                sb.Append((char)cp);
            }
            else
            {
                sb.Append(char.ConvertFromUtf32(cp));
            }
        }

        return sb.ToString();
    }

    /// <summary>The canonical combining class of <paramref name="cp"/> (0 for starters).</summary>
    public static int CombiningClass(int cp)
    {
        int[] r = UnicodeNfcData.CombiningClassRanges;
        int lo = 0, hi = r.Length / 3 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (cp < r[mid * 3])
            {
                hi = mid - 1;
            }
            else if (cp > r[mid * 3 + 1])
            {
                lo = mid + 1;
            }
            else
            {
                return r[mid * 3 + 2];
            }
        }

        return 0;
    }

    private static void AppendDecomposed(int cp, List<int> output)
    {
        int s = cp - SBase;
        if (s >= 0 && s < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
            {
                output.Add(TBase + s % TCount);
            }

            return;
        }

        if (Decompose.TryGetValue(cp, out int[]? parts))
        {
            foreach (int p in parts)
            {
                AppendDecomposed(p, output);
            }
        }
        else
        {
            output.Add(cp);
        }
    }

    // Stable sort of every run of non-starters by combining class (insertion sort: runs are short).
    private static void ReorderMarks(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = CombiningClass(cps[i]);
            if (cc == 0)
            {
                continue;
            }

            int j = i;
            int cp = cps[i];
            while (j > 0)
            {
                int prev = CombiningClass(cps[j - 1]);
                if (prev <= cc)
                {
                    break;
                }

                cps[j] = cps[j - 1];
                j--;
            }

            cps[j] = cp;
        }
    }

    private static void ComposeInPlace(List<int> cps)
    {
        if (cps.Count == 0)
        {
            return;
        }

        int starterPos = 0;
        int starter = cps[0];
        int lastClass = CombiningClass(starter) == 0 ? 0 : 256; // a leading mark never composes
        int write = 1;
        for (int read = 1; read < cps.Count; read++)
        {
            int ch = cps[read];
            int chClass = CombiningClass(ch);
            int composite = TryCompose(starter, ch);
            if (composite >= 0 && (lastClass < chClass || lastClass == 0))
            {
                cps[starterPos] = composite;
                starter = composite;
                continue;
            }

            if (chClass == 0)
            {
                starterPos = write;
                starter = ch;
            }

            lastClass = chClass;
            cps[write++] = ch;
        }

        cps.RemoveRange(write, cps.Count - write);
    }

    private static int TryCompose(int first, int second)
    {
        int l = first - LBase;
        if (l >= 0 && l < LCount)
        {
            int v = second - VBase;
            return v >= 0 && v < VCount ? SBase + (l * VCount + v) * TCount : -1;
        }

        int s = first - SBase;
        if (s >= 0 && s < SCount && s % TCount == 0)
        {
            int t = second - TBase;
            return t > 0 && t < TCount ? first + t : -1;
        }

        return Compose.TryGetValue(Key(first, second), out int c) ? c : -1;
    }

    private static long Key(int first, int second) => ((long)first << 21) | (uint)second;

    private static Dictionary<long, int> BuildCompose()
    {
        int[] t = UnicodeNfcData.Compositions;
        var map = new Dictionary<long, int>(t.Length / 3);
        for (int i = 0; i < t.Length; i += 3)
        {
            map[Key(t[i], t[i + 1])] = t[i + 2];
        }

        return map;
    }

    private static Dictionary<int, int[]> BuildDecompose()
    {
        int[] c = UnicodeNfcData.Compositions;
        int[] d = UnicodeNfcData.Decompositions;
        var map = new Dictionary<int, int[]>(c.Length / 3 + d.Length / 3);
        for (int i = 0; i < c.Length; i += 3)
        {
            map[c[i + 2]] = [c[i], c[i + 1]];
        }

        for (int i = 0; i < d.Length;)
        {
            int cp = d[i];
            int n = d[i + 1];
            map[cp] = d.AsSpan(i + 2, n).ToArray();
            i += 2 + n;
        }

        return map;
    }
}
