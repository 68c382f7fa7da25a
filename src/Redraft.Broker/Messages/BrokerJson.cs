using System.Text.Json;
using System.Text.Json.Serialization;

namespace Redraft.Broker.Messages;

/// <summary>How every message body is written: JSON, snake_case, byte arrays as base64.</summary>
public static class BrokerJson
{
    /// <summary>The options of every message.</summary>
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The message's body.</summary>
    public static byte[] Write<T>(T message) => JsonSerializer.SerializeToUtf8Bytes(message, Options);

    /// <summary>A message read back, or null when the body is not one (transient messages of another program or version are ignored).</summary>
    public static T? TryRead<T>(ReadOnlyMemory<byte> body) where T : class
    {
        try
        {
            return Read<T>(body);
        }
        catch (BrokerMessageException)
        {
            return null;
        }
    }

    /// <summary>A message read back; a body that is not one is a <see cref="BrokerMessageException"/>.</summary>
    public static T Read<T>(ReadOnlyMemory<byte> body) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(body.Span, Options) ?? throw new BrokerMessageException($"an empty {typeof(T).Name}");
        }
        catch (JsonException e)
        {
            throw new BrokerMessageException($"not a {typeof(T).Name}: {e.Message}");
        }
    }
}

/// <summary>A message on the broker that Redraft cannot read (another program's, or another version's).</summary>
public sealed class BrokerMessageException(string message) : Exception(message);
