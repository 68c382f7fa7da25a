using System.Text.Json.Serialization;

namespace Redraft.Cli.Bench;

/// <summary>One timed component, as printed and as written by <c>redraft bench --json</c>.</summary>
internal sealed record BenchResult(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("dtype")] string DType,
    [property: JsonPropertyName("batch")] int Batch,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("threads")] int Threads,
    [property: JsonPropertyName("median_s")] double MedianSeconds,
    [property: JsonPropertyName("min_s")] double MinSeconds,
    [property: JsonPropertyName("max_s")] double MaxSeconds,
    [property: JsonPropertyName("gflop")] double Gflop,
    [property: JsonPropertyName("gflops")] double Gflops,
    [property: JsonPropertyName("floor_ratio")] double FloorRatio)
{
    /// <summary>Which attention ran (<c>fused</c> or <c>sdpa</c>) for components that contain attention.</summary>
    [JsonPropertyName("attention")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Attention { get; init; }

    /// <summary>The dtype with the attention kernel, as the table shows it.</summary>
    [JsonIgnore]
    public string DTypeLabel => Attention is { } a ? $"{DType} ({a})" : DType;
}
