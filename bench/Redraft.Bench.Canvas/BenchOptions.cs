using System.Globalization;

namespace Redraft.Bench.Canvas;

/// <summary>The benchmark's command line.</summary>
public sealed record BenchOptions
{
    public IReadOnlySet<string> Only { get; init; } = new HashSet<string> { "pointer", "undo", "live" };
    public int Strokes { get; init; } = 5;
    public int[] BrushSizes { get; init; } = [12, 100];
    public int Undos { get; init; } = 20;
    public int UndoSteps { get; init; } = 100;
    public int LiveStrokes { get; init; } = 5;
    public int LiveSteps { get; init; } = LiveLoopBench.Defaults.Steps;
    public double LiveStrength { get; init; } = LiveLoopBench.Defaults.Strength;
    public int Threads { get; init; } = 2;
    public string VaeDType { get; init; } = "fp32";
    /// <summary>Print one JSON object (every stroke and round trip) after the table.</summary>
    public bool Json { get; init; }

    public const string Usage = """
        usage: Redraft.Bench.Canvas [--only pointer,undo,live] [--strokes 5] [--brush-sizes 12,100] [--undos 20]
                                    [--undo-steps 100] [--live-strokes 5] [--live-steps 2]
                                    [--live-strength 0.5] [--threads 2] [--vae-dtype fp32|bf16] [--json]
        """;

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
            int Number() => int.Parse(Value(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--only" => o with { Only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet() },
                "--strokes" => o with { Strokes = Number() },
                "--brush-sizes" => o with { BrushSizes = [.. Value().Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))] },
                "--undos" => o with { Undos = Number() },
                "--undo-steps" => o with { UndoSteps = Number() },
                "--live-strokes" => o with { LiveStrokes = Number() },
                "--live-steps" => o with { LiveSteps = Number() },
                "--live-strength" => o with { LiveStrength = double.Parse(Value(), CultureInfo.InvariantCulture) },
                "--threads" => o with { Threads = Number() },
                "--vae-dtype" => o with { VaeDType = Value() },
                "--json" => o with { Json = true },
                _ => throw new ArgumentException($"unknown option {args[i]}\n{Usage}"),
            };
        }
        if (o.Only.Except(["pointer", "undo", "live"]).FirstOrDefault() is { } unknown)
            throw new ArgumentException($"--only: {unknown} is not pointer, undo or live");
        return o;
    }
}
