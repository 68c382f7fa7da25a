using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Redraft.Imaging;
using static Microsoft.Playwright.Assertions;

namespace Redraft.Canvas.Tests;

/// <summary>
/// Drives the canvas page for one test: its own browser context and document, real pointer and keyboard input through
/// Playwright, and reads of the document through the API (the truth the page must agree with).
/// </summary>
public sealed class CanvasPage(CanvasServerFixture server, IPage page)
{
    public IPage Page { get; } = page;

    public CanvasServerFixture Server { get; } = server;

    /// <summary>A name no other test uses.</summary>
    public static string NewName(string what) => $"{what} {Guid.NewGuid():N}"[..Math.Min(60, what.Length + 9)];

    /// <summary>A sketch to start from: a white canvas with four coloured blocks (PNG), deterministic for <paramref name="seed"/>.</summary>
    public static byte[] Sketch(int width, int height, int seed = 1) => Sketches.Png(width, height, seed);

    /// <summary>A document made through the API from <see cref="Sketch"/>: the fixture every test starts from.</summary>
    public async Task<string> CreateDocument(string what, int width = 64, int height = 64, int seed = 1)
    {
        string name = NewName(what);
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(name), "name");
        var image = new ByteArrayContent(Sketch(width, height, seed));
        image.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(image, "image", "sketch.png");
        await Server.Url();
        using var response = await Server.Client.PostAsync("/api/v1/documents", form);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return name;
    }

    /// <summary>An empty document (no layers: a white canvas) made through the API.</summary>
    public async Task<string> CreateBlank(string what, int width, int height)
    {
        string name = NewName(what);
        await Server.Post("/api/v1/documents", System.Text.Json.JsonSerializer.Serialize(new { name, width, height }));
        return name;
    }

    public static string DocUrl(string name) => "/api/v1/documents/" + Uri.EscapeDataString(name);

    /// <summary>The document as the API reads it now.</summary>
    public Task<JsonNode> Document(string name) => Server.Get(DocUrl(name));

    /// <summary>Its history, oldest first.</summary>
    public async Task<JsonArray> History(string name) => (await Server.Get(DocUrl(name) + "/history"))["steps"]!.AsArray();

    /// <summary>Opens the document in the page and waits until it shows the API's head state.</summary>
    public async Task Open(string name)
    {
        await Page.GotoAsync("/#/doc/" + Uri.EscapeDataString(name));
        await WaitForHead(name);
    }

    /// <summary>Waits until the page shows the document's current head state (read through the API), and returns it.</summary>
    public async Task<long> WaitForHead(string name)
    {
        long state = (long)(await Document(name))["state"]!;
        await Expect(Page.Locator("body")).ToHaveAttributeAsync("data-state", state.ToString());
        return state;
    }

    /// <summary>Waits until the document's head differs from <paramref name="state"/> and the page shows it.</summary>
    public async Task<long> WaitForChange(string name, long state)
    {
        await Expect(Page.Locator("body")).Not.ToHaveAttributeAsync("data-state", state.ToString(), new() { Timeout = 60_000 });
        return await WaitForHead(name);
    }

    /// <summary>
    /// The page's composite against <c>composite.png</c> of the same state (= <c>redraft doc render</c>): every
    /// channel of every pixel within 1/255.
    /// </summary>
    public async Task AssertShowsRender(string name)
    {
        long state = await WaitForHead(name);
        var rendered = ImageFiles.DecodeRgba(await Server.Client.GetByteArrayAsync($"{DocUrl(name)}/composite.png?state={state}"), "composite.png");
        string shown = await Page.EvaluateAsync<string>($"() => window.__redraft.compositePixels(0, 0, {rendered.Width}, {rendered.Height})");
        byte[] pixels = Convert.FromBase64String(shown);
        Assert.Equal(rendered.Pixels.Length, pixels.Length);
        int worst = 0;
        for (int i = 0; i < pixels.Length; i++) worst = Math.Max(worst, Math.Abs(pixels[i] - rendered.Pixels[i]));
        Assert.True(worst <= 1, $"the page's composite differs from doc render by up to {worst}/255");
    }

    /// <summary>The page position of document pixel (x, y) (the centre of that pixel), from where the composite is on screen.</summary>
    public async Task<(float X, float Y)> ScreenPoint(string name, double x, double y)
    {
        var document = await Document(name);
        var box = await Page.Locator("#composite").BoundingBoxAsync() ?? throw new InvalidOperationException("the composite is not on screen");
        double zoom = box.Width / (int)document["width"]!;
        return ((float)(box.X + (x + 0.5) * zoom), (float)(box.Y + (y + 0.5) * zoom));
    }

    /// <summary>A mouse drag from one document pixel to another, in small moves as a hand makes them.</summary>
    public async Task Drag(string name, (double X, double Y) from, (double X, double Y) to)
    {
        var (x0, y0) = await ScreenPoint(name, from.X, from.Y);
        var (x1, y1) = await ScreenPoint(name, to.X, to.Y);
        await Page.Mouse.MoveAsync(x0, y0);
        await Page.Mouse.DownAsync();
        await Page.Mouse.MoveAsync(x1, y1, new() { Steps = 12 });
        await Page.Mouse.UpAsync();
    }

    /// <summary>
    /// Drops a file on <paramref name="selector"/> at page position (x, y) (the element's centre when null): a
    /// DataTransfer holding the file, with the drag events a real drop sends (headless Chromium has no desktop to drag
    /// from).
    /// </summary>
    public async Task DropFile(string selector, byte[] bytes, string fileName, (float X, float Y)? at = null)
    {
        var box = await Page.Locator(selector).BoundingBoxAsync() ?? throw new InvalidOperationException($"{selector} is not on screen");
        double x = at?.X ?? box.X + box.Width / 2, y = at?.Y ?? box.Y + box.Height / 2;
        await Page.EvaluateAsync("""
            ({ selector, data, fileName, x, y }) => {
              const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
              const transfer = new DataTransfer();
              transfer.items.add(new File([bytes], fileName, { type: "image/png" }));
              const target = document.querySelector(selector);
              for (const type of ["dragenter", "dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, clientX: x, clientY: y, bubbles: true, cancelable: true }));
              }
            }
            """, new { selector, data = Convert.ToBase64String(bytes), fileName, x, y });
    }

    /// <summary>Sets the generate panel for a quick, reproducible run on the tiny model.</summary>
    public async Task SetUpGenerate(string prompt, double strength = 0.75, int steps = 3, int variations = 1, long seed = 11)
    {
        await Page.Locator("#prompt").FillAsync(prompt);
        await SetRange("#strength", strength);
        await Page.Locator("#steps").FillAsync(steps.ToString());
        await Page.Locator("#variations").FillAsync(variations.ToString());
        await Page.Locator("#seed-mode").SelectOptionAsync("fixed");
        await Page.Locator("#seed").FillAsync(seed.ToString());
    }

    /// <summary>Sets a range input as a user's drag would end (input and change events).</summary>
    public Task SetRange(string selector, double value) =>
        Page.Locator(selector).EvaluateAsync("(input, value) => { input.value = String(value); input.dispatchEvent(new Event('input', { bubbles: true })); input.dispatchEvent(new Event('change', { bubbles: true })); }", value);

    /// <summary>Waits for the job the page follows to end in <paramref name="status"/> (done, cancelled, error).</summary>
    public Task WaitForJob(string status = "done") =>
        Expect(Page.Locator("#progress")).ToHaveAttributeAsync("data-job-status", status, new() { Timeout = 120_000 });

    /// <summary>Reads job <paramref name="id"/>'s event stream until its terminal event, which must be <c>result</c>; returns its data.</summary>
    public async Task<JsonNode> FollowJob(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var response = await Server.Client.GetAsync($"/api/v1/jobs/{Uri.EscapeDataString(id)}/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
        bool result = false;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (result && line.StartsWith("data: ", StringComparison.Ordinal)) return JsonNode.Parse(line[6..])!;
            result = line == "event: result";
            Assert.False(line is "event: error" or "event: cancelled", $"job {id} ended with {line}");
        }
        throw new Xunit.Sdk.XunitException($"the event stream of job {id} ended without a terminal event");
    }

    /// <summary>The events the page recorded, of one type.</summary>
    public async Task<JsonArray> Events(string type) =>
        JsonNode.Parse(await Page.EvaluateAsync<string>("t => JSON.stringify(window.__redraft.events.filter(e => e.type === t))", type))!.AsArray();
}
