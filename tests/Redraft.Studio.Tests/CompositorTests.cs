namespace Redraft.Studio.Tests;

public class CompositorTests
{
    private static readonly (byte, byte, byte, byte) Red = (255, 0, 0, 255), Green = (0, 255, 0, 255),
        Blue = (0, 0, 255, 255);

    private readonly InMemoryLayerPixels _pixels = new();

    private Layer Add(string name, RgbaImage image, int x = 0, int y = 0, double scale = 1, double opacity = 1, MaskImage? mask = null)
    {
        _pixels.Images[T.Hash(name)] = image;
        if (mask is not null) _pixels.Masks[T.Hash(name + "/mask")] = mask;
        return new Layer
        {
            Id = name, Image = T.Hash(name), X = x, Y = y, Scale = scale, Opacity = opacity,
            Mask = mask is null ? null : T.Hash(name + "/mask"),
        };
    }

    [Fact]
    public void Empty_document_is_the_background_or_transparent()
    {
        var doc = new Document(3, 2);
        var rgb = Compositor.Render(doc, _pixels, 10, 20, 30);
        Assert.Equal((10, 20, 30), rgb.GetPixel(2, 1));
        var rgba = Compositor.RenderRgba(doc, _pixels);
        Assert.All(rgba.Pixels, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Opaque_layer_is_placed_at_its_offset()
    {
        var doc = new Document(4, 4, [Add("a", T.Image(2, 2, Red, Green, Blue, Red), 1, 2)]);
        var rgb = Compositor.Render(doc, _pixels);
        Assert.Equal((255, 255, 255), rgb.GetPixel(0, 0));
        Assert.Equal((255, 0, 0), rgb.GetPixel(1, 2));
        Assert.Equal((0, 255, 0), rgb.GetPixel(2, 2));
        Assert.Equal((0, 0, 255), rgb.GetPixel(1, 3));
        Assert.Equal((255, 0, 0), rgb.GetPixel(2, 3));
        Assert.Equal((255, 255, 255), rgb.GetPixel(3, 3));
        Assert.Equal((255, 255, 255), rgb.GetPixel(1, 1));
    }

    [Fact]
    public void Opacity_half_over_white_rounds_half_up()
    {
        var doc = new Document(1, 1, [Add("a", T.Image(1, 1, Red), opacity: 0.5)]);
        Assert.Equal((255, 128, 128), Compositor.Render(doc, _pixels).GetPixel(0, 0));
        Assert.Equal((255, 0, 0, 128), Compositor.RenderRgba(doc, _pixels).GetPixel(0, 0));
    }

    [Fact]
    public void Over_operator_with_straight_alpha()
    {
        // Half-transparent blue over opaque red: 127/128 split, opaque.
        var doc = new Document(1, 1, [Add("a", T.Image(1, 1, Red)), Add("b", T.Image(1, 1, (0, 0, 255, 128)))]);
        Assert.Equal((127, 0, 128, 255), Compositor.RenderRgba(doc, _pixels).GetPixel(0, 0));

        // Two half-transparent layers over nothing: alpha 1-(1-a)^2, colour weighted by contribution.
        var doc2 = new Document(1, 1, [Add("c", T.Image(1, 1, (255, 0, 0, 128))), Add("d", T.Image(1, 1, (0, 255, 0, 128)))]);
        Assert.Equal((85, 170, 0, 192), Compositor.RenderRgba(doc2, _pixels).GetPixel(0, 0));

        // A fully transparent pixel changes nothing, whatever colour it carries.
        var doc3 = new Document(1, 1, [Add("e", T.Image(1, 1, Green)), Add("f", T.Image(1, 1, (255, 0, 0, 0)))]);
        Assert.Equal((0, 255, 0, 255), Compositor.RenderRgba(doc3, _pixels).GetPixel(0, 0));
    }

    [Fact]
    public void Offsets_partly_outside_the_canvas_are_clipped()
    {
        // 3x3 layer with pixel (i, j) = (10i, 10j, 7); at (-1, -2) the canvas's (0,0) shows layer pixel (1, 2).
        var px = new (byte, byte, byte, byte)[9];
        for (int j = 0; j < 3; j++) for (int i = 0; i < 3; i++) px[j * 3 + i] = ((byte)(10 * i), (byte)(10 * j), 7, 255);
        var layer = T.Image(3, 3, px);
        var doc = new Document(4, 4, [Add("a", layer, -1, -2), Add("b", layer, 3, 3), Add("c", layer, -3, 0), Add("d", layer, 4, 0)]);
        var rgb = Compositor.Render(doc, _pixels);
        Assert.Equal((10, 20, 7), rgb.GetPixel(0, 0));
        Assert.Equal((20, 20, 7), rgb.GetPixel(1, 0));
        Assert.Equal((255, 255, 255), rgb.GetPixel(2, 0));   // beyond the layer's right edge
        Assert.Equal((255, 255, 255), rgb.GetPixel(0, 1));   // below its bottom edge
        Assert.Equal((0, 0, 7), rgb.GetPixel(3, 3));         // only the top-left pixel of "b" is on the canvas
        Assert.Equal((255, 255, 255), rgb.GetPixel(3, 2));
    }

    [Fact]
    public void Mask_scales_alpha_in_layer_pixels()
    {
        var mask = new MaskImage(3, 1, [255, 64, 0]);
        var doc = new Document(3, 1, [Add("a", T.Image(3, 1, Red, Red, Red), mask: mask)]);
        var rgb = Compositor.Render(doc, _pixels);
        Assert.Equal((255, 0, 0), rgb.GetPixel(0, 0));
        Assert.Equal((255, 191, 191), rgb.GetPixel(1, 0));
        Assert.Equal((255, 255, 255), rgb.GetPixel(2, 0));
        Assert.Equal((255, 0, 0, 64), Compositor.RenderRgba(doc, _pixels).GetPixel(1, 0));
    }

    [Fact]
    public void Integer_upscale_replicates_pixels_and_mask_applies_before_scaling()
    {
        var mask = new MaskImage(2, 2, [255, 255, 255, 0]);
        var doc = new Document(5, 5, [Add("a", T.Image(2, 2, Red, Green, Blue, Red), 1, 0, scale: 2, mask: mask)]);
        var rgb = Compositor.Render(doc, _pixels);
        for (int y = 0; y < 4; y++)
            for (int x = 1; x < 5; x++)
            {
                var expected = (x < 3, y < 2) switch
                {
                    (true, true) => (255, 0, 0),
                    (false, true) => (0, 255, 0),
                    (true, false) => (0, 0, 255),
                    _ => (255, 255, 255), // masked out
                };
                Assert.Equal(expected, rgb.GetPixel(x, y));
            }
        Assert.Equal((255, 255, 255), rgb.GetPixel(0, 0));
        Assert.Equal((255, 255, 255), rgb.GetPixel(1, 4));
    }

    [Fact]
    public void Half_scale_averages_2x2_blocks_in_premultiplied_alpha()
    {
        // Block 1: two opaque red and two transparent green -> red at alpha 128 (no green bleed).
        // Block 2: black and white opaque -> 128 grey.
        (byte, byte, byte, byte) G0 = (0, 255, 0, 0), W = (255, 255, 255, 255), K = (0, 0, 0, 255);
        var image = T.Image(4, 2,
            Red, G0, W, K,
            G0, Red, K, W);
        var doc = new Document(2, 1, [Add("a", image, scale: 0.5)]);
        var rgba = Compositor.RenderRgba(doc, _pixels);
        Assert.Equal((255, 0, 0, 128), rgba.GetPixel(0, 0));
        Assert.Equal((128, 128, 128, 255), rgba.GetPixel(1, 0));
    }

    [Fact]
    public void Fractional_scale_uses_area_weights()
    {
        // 2 pixels -> 3 pixels (scale 1.5): the middle one is half of each.
        var image = T.Image(2, 1, (0, 0, 0, 255), (255, 255, 255, 255));
        var doc = new Document(3, 1, [Add("a", image, scale: 1.5)]);
        var rgb = Compositor.Render(doc, _pixels);
        Assert.Equal((0, 0, 0), rgb.GetPixel(0, 0));
        Assert.Equal((128, 128, 128), rgb.GetPixel(1, 0));
        Assert.Equal((255, 255, 255), rgb.GetPixel(2, 0));
        Assert.Equal((3, 2), Compositor.ScaledSize(2, 1, 1.5)); // 1.5 rounds half away from zero
    }

    [Fact]
    public void Scaled_layer_partly_outside_matches_the_unclipped_render()
    {
        var image = T.Random(7, 5, seed: 3);
        var full = Compositor.RenderRgba(new Document(30, 30, [Add("a", image, 10, 10, scale: 1.7)]), _pixels);
        var clipped = Compositor.RenderRgba(new Document(8, 6, [Add("b", image, 10 - 15, 10 - 14, scale: 1.7)]), _pixels);
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 8; x++)
                Assert.Equal(full.GetPixel(x + 15, y + 14), clipped.GetPixel(x, y));
    }

    [Fact]
    public void Invisible_and_hidden_layers_are_not_drawn()
    {
        var a = Add("a", T.Image(1, 1, Red));
        var b = Add("b", T.Image(1, 1, Green)) with { Visible = false };
        var c = Add("c", T.Image(1, 1, Blue)) with { Hidden = true };
        var rgb = Compositor.Render(new Document(1, 1, [a, b, c]), _pixels);
        Assert.Equal((255, 0, 0), rgb.GetPixel(0, 0));
    }

    [Fact]
    public void Mask_of_another_size_is_an_error()
    {
        var doc = new Document(2, 2, [Add("a", T.Image(1, 1, Red), mask: MaskImage.Filled(2, 2, 255))]);
        var ex = Assert.Throws<StudioInputException>(() => Compositor.Render(doc, _pixels));
        Assert.Contains("mask is 2x2 but the image is 1x1", ex.Message);
    }

    [Fact]
    public void Rgba_flattening_matches_render_over_white()
    {
        var doc = new Document(5, 4, [Add("a", T.Random(5, 4, 1)), Add("b", T.Random(3, 3, 2), 1, 1, opacity: 0.75)]);
        var direct = Compositor.Render(doc, _pixels);
        var flattened = Compositor.RenderRgba(doc, _pixels).ToRgb();
        for (int i = 0; i < direct.Pixels.Length; i++)
            Assert.InRange(direct.Pixels[i] - flattened.Pixels[i], -1, 1);
    }
}
