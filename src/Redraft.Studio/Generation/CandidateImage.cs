namespace Redraft.Studio.Generation;

/// <summary>
/// One image of a generation as the layer <see cref="DocumentGenerator.Commit"/> would make of it, before anything is
/// recorded (<see cref="DocumentGenerator.Candidates"/>): where it lies on the canvas and the PNG the layer would store.
/// </summary>
/// <param name="X">Left edge on the canvas, in canvas pixels.</param>
/// <param name="Y">Top edge on the canvas.</param>
/// <param name="Width">Its width (canvas pixels: the layer is not scaled).</param>
/// <param name="Height">Its height.</param>
/// <param name="Seed">The seed of the image.</param>
/// <param name="Png">The PNG bytes (RGB, with the generation's <c>parameters</c> chunk), byte for byte the layer's image once committed.</param>
public sealed record CandidateImage(int X, int Y, int Width, int Height, long Seed, byte[] Png);
