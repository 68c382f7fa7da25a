using TorchSharp;

namespace Redraft.Diffusion.Checkpoints;

/// <summary>Element types a safetensors file can declare (the <c>dtype</c> field; names as in the format).</summary>
internal enum SafetensorsDType
{
    /// <summary>IEEE 754 single precision (4 bytes).</summary>
    F32,
    /// <summary>IEEE 754 half precision (2 bytes).</summary>
    F16,
    /// <summary>bfloat16 (2 bytes): the upper half of an F32.</summary>
    BF16,
    /// <summary>IEEE 754 double precision (8 bytes).</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Boolean stored as one byte (0 or 1).</summary>
    BOOL,
}

/// <summary>Sizes, names and torch mappings of <see cref="SafetensorsDType"/>.</summary>
internal static class SafetensorsDTypeExtensions
{
    /// <summary>Size of one element in bytes.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.I16 => 2,
        SafetensorsDType.I8 or SafetensorsDType.U8 or SafetensorsDType.BOOL => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>Whether the values are floating point (F32, F16, BF16, F64): what a network's weights must be.</summary>
    public static bool IsFloatingPoint(this SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64;

    /// <summary>The torch element type holding this dtype's values bit for bit.</summary>
    public static torch.ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown safetensors dtype"),
    };

    /// <summary>
    /// The safetensors dtype for a torch element type, or <c>null</c> when the format has no
    /// equivalent here (complex and quantized types).
    /// </summary>
    public static SafetensorsDType? FromScalarType(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float32 => SafetensorsDType.F32,
        torch.ScalarType.Float16 => SafetensorsDType.F16,
        torch.ScalarType.BFloat16 => SafetensorsDType.BF16,
        torch.ScalarType.Float64 => SafetensorsDType.F64,
        torch.ScalarType.Int64 => SafetensorsDType.I64,
        torch.ScalarType.Int32 => SafetensorsDType.I32,
        torch.ScalarType.Int16 => SafetensorsDType.I16,
        torch.ScalarType.Int8 => SafetensorsDType.I8,
        torch.ScalarType.Byte => SafetensorsDType.U8,
        torch.ScalarType.Bool => SafetensorsDType.BOOL,
        _ => null,
    };

    /// <summary>The name written in a safetensors header (<c>"F32"</c>, <c>"BF16"</c>, ...).</summary>
    public static string HeaderName(this SafetensorsDType dtype) => dtype.ToString();

    /// <summary>
    /// Parses a header dtype name. Exact, case-sensitive match as the format requires;
    /// numeric strings are refused.
    /// </summary>
    public static bool TryParseHeaderName(string name, out SafetensorsDType dtype)
    {
        foreach (var candidate in Enum.GetValues<SafetensorsDType>())
        {
            if (string.Equals(candidate.ToString(), name, StringComparison.Ordinal))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }
}
