using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Redraft.Server.Api;

/// <summary>
/// <c>--api-auth user:password[,user:password]</c>: HTTP Basic on every route except CORS preflights and
/// <c>/internal/ping</c>. Credentials are compared in constant time (a wrong password takes as long as a right one),
/// and a refusal is A1111's 401 body plus a <c>WWW-Authenticate: Basic</c> header.
/// </summary>
internal sealed class BasicAuthentication(RequestDelegate next, IReadOnlyList<byte[]> credentials)
{
    /// <summary>Parses the option's value.</summary>
    /// <exception cref="RedraftInputException">An entry is not user:password.</exception>
    public static IReadOnlyList<byte[]> Parse(IEnumerable<string> entries)
    {
        var list = new List<byte[]>();
        foreach (var entry in entries.SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            int colon = entry.IndexOf(':');
            if (colon <= 0 || colon == entry.Length - 1)
                throw new RedraftInputException($"--api-auth: \"{entry}\" is not user:password; give user:password[,user:password].");
            list.Add(Encoding.UTF8.GetBytes(entry));
        }
        return list;
    }

    public async Task InvokeAsync(HttpContext http)
    {
        if (HttpMethods.IsOptions(http.Request.Method) || http.Request.Path.Equals("/internal/ping"))
        {
            await next(http);
            return;
        }
        if (Allowed(http.Request.Headers.Authorization.ToString()) is { } user)
        {
            // The user is the client a job belongs to (a broker-backed queue shares its turns between clients).
            http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], "Basic"));
            await next(http);
            return;
        }
        bool sent = http.Request.Headers.Authorization.Count > 0;
        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = "Basic";
        await http.Response.WriteAsJsonAsync(ErrorResponses.Shape("HTTPException", sent ? "Incorrect username or password" : "Not authenticated", ""));
    }

    /// <summary>The user name when the header carries valid credentials, else null.</summary>
    private string? Allowed(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        byte[] given;
        try
        {
            given = Convert.FromBase64String(header["Basic ".Length..].Trim());
        }
        catch (FormatException)
        {
            return null;
        }
        // Every entry is compared, whatever matched, so the time does not say which user exists.
        bool ok = false;
        foreach (var expected in credentials) ok |= CryptographicOperations.FixedTimeEquals(Pad(given, expected.Length), expected) & given.Length == expected.Length;
        return ok ? Encoding.UTF8.GetString(given, 0, Array.IndexOf(given, (byte)':')) : null;
    }

    /// <summary>The given bytes cut or zero-padded to the expected length, so the comparison runs over the same length either way.</summary>
    private static byte[] Pad(byte[] given, int length)
    {
        var padded = new byte[length];
        Array.Copy(given, padded, Math.Min(given.Length, length));
        return padded;
    }
}
