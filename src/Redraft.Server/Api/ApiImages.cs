namespace Redraft.Server.Api;

/// <summary>Images in A1111 requests: base64, with or without a <c>data:image/...;base64,</c> prefix.</summary>
internal static class ApiImages
{
    /// <summary>The bytes of a base64 image field.</summary>
    /// <exception cref="ApiException">422: not base64.</exception>
    public static byte[] Bytes(string text, string field)
    {
        string data = text.Trim();
        if (data.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
        {
            int comma = data.IndexOf(',');
            data = comma < 0 ? "" : data[(comma + 1)..];
        }
        if (data.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || data.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            throw ApiException.Unprocessable($"{field}: image URLs are not fetched by Redraft; send the image as base64.");
        try
        {
            return Convert.FromBase64String(data);
        }
        catch (FormatException)
        {
            throw ApiException.Unprocessable($"{field}: Invalid encoded image (not base64); send the image file's bytes as base64, optionally with a data:image/png;base64, prefix.");
        }
    }

    /// <summary>Decodes a base64 image field (EXIF orientation applied, size limits checked).</summary>
    /// <exception cref="ApiException">422: not base64, or not an image.</exception>
    public static RgbaImage Decode(string text, string field)
    {
        var bytes = Bytes(text, field);
        try
        {
            return ImageFiles.DecodeRgba(bytes, field);
        }
        catch (ImageInputException e)
        {
            throw ApiException.Unprocessable($"Invalid encoded image: {e.Message}");
        }
    }
}
