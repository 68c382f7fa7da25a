namespace Redraft.Models;

/// <summary>Where an installed model came from, which decides whether <c>rm</c> may delete it.</summary>
public enum ModelSource
{
    /// <summary>Downloaded by Redraft (recorded in the models folder's manifest): <c>rm</c> deletes it.</summary>
    Redraft,
    /// <summary>A file someone put in the models folder: used, never deleted.</summary>
    ModelsFolder,
    /// <summary>In the Hugging Face cache: used in place, never deleted.</summary>
    HuggingFaceCache,
    /// <summary>In an AUTOMATIC1111 folder: used in place, never deleted.</summary>
    A1111,
}

/// <summary>A model on disk.</summary>
/// <param name="Name">The name commands accept: the catalogue name when it is a catalogue model, else the file name without extension.</param>
/// <param name="Role">What it is for.</param>
/// <param name="Path">Its file (for TAESD and the tokenizer: their folder).</param>
/// <param name="Size">Bytes on disk (symbolic links followed).</param>
/// <param name="Source">Where it came from.</param>
/// <param name="CatalogueName">The catalogue entry it is, or null.</param>
public sealed record InstalledModel(string Name, ModelRole Role, string Path, long Size, ModelSource Source, string? CatalogueName);
