namespace Redraft.Broker;

/// <summary>A broker's address as the user gives it: <c>amqp://user:pass@host:5672/vhost</c>, or <c>amqps://</c> for TLS.</summary>
public sealed record BrokerAddress(Uri Uri)
{
    /// <summary>Reads <c>--broker</c>.</summary>
    /// <exception cref="RedraftInputException">Not an amqp:// or amqps:// URL with a host.</exception>
    public static BrokerAddress Parse(string text)
    {
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || uri.Host.Length == 0)
            throw new RedraftInputException($"--broker: \"{Redact(text)}\" is not a broker URL; give amqp://user:password@host:5672/vhost (amqps:// for TLS).");
        return new BrokerAddress(uri);
    }

    /// <summary>The address without its password, for messages and logs.</summary>
    public override string ToString() => Redact(Uri.OriginalString);

    private static string Redact(string text)
    {
        int scheme = text.IndexOf("://", StringComparison.Ordinal);
        int at = text.IndexOf('@');
        if (scheme < 0 || at < scheme) return text;
        int colon = text.IndexOf(':', scheme + 3);
        return colon > 0 && colon < at ? text[..(colon + 1)] + "***" + text[at..] : text;
    }
}
