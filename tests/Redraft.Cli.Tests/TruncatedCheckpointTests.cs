using System.CommandLine;
using Redraft.Cli.Commands;
using Redraft.Diffusion.Checkpoints;
using Redraft.Diffusion.Tests;
using Redraft.Diffusion.Tools;

namespace Redraft.Cli.Tests;

/// <summary>
/// A checkpoint cut short after its header was read (the truncation hook of <see cref="SafetensorsFile"/>) makes
/// <c>redraft txt2img</c> exit 2 with one line, every time; with the file memory-mapped the process died of SIGBUS.
/// Runs the command in this process (the hook is a static of the loading code), alone, as it captures stderr.
/// </summary>
[Collection(Name)]
public sealed class TruncatedCheckpointTests : IDisposable
{
    public const string Name = "truncated checkpoint (in-process CLI, captures stderr)";

    private readonly string _folder = Directory.CreateTempSubdirectory("redraft-truncated-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }

    [SharedDataFact]
    public async Task TruncatedAfterTheHeaderExitsTwoEveryTime()
    {
        string model = Path.Combine(_folder, "tiny.safetensors");
        RandomCheckpointWriter.Write(ModelPreset.Tiny, 3, model, CheckpointLayout.SingleFile);
        byte[] original = File.ReadAllBytes(model);
        long headerEnd = 8 + (long)BitConverter.ToUInt64(original, 0);
        string output = Path.Combine(_folder, "out.png");

        // A run opens the file more than once: the memory check reads the header alone (each GenerationService.Resolve),
        // then the load reads the header and the data. A first, undisturbed run counts the opens; in the 20 runs the
        // file is cut at the last one, the load's, between its header and its data.
        int opens = 0, cutAt = int.MaxValue;
        Action<string> truncate = path =>
        {
            if (path != model || ++opens != cutAt) return;
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.SetLength(handle, headerEnd);
        };
        SafetensorsFile.AfterHeaderParsed += truncate;
        var stderr = Console.Error;
        try
        {
            string[] args =
            [
                "txt2img", "--model", model, "--prompt", "a lighthouse", "--width", "64", "--height", "64",
                "--steps", "1", "--seed", "1", "--threads", "1", "--tokenizer", SharedData.ClipDir, "--out", output,
            ];
            Assert.Equal(0, await CliRunner.RunAsync(new RootCommand { GenerateCommands.Txt2Img() }, args));
            File.Delete(output);
            cutAt = opens;
            for (int run = 0; run < 20; run++)
            {
                File.WriteAllBytes(model, original);
                opens = 0;
                var captured = new StringWriter();
                Console.SetError(captured);
                int exit;
                try
                {
                    exit = await CliRunner.RunAsync(new RootCommand { GenerateCommands.Txt2Img() }, args);
                }
                finally
                {
                    Console.SetError(stderr);
                }
                var lines = captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.True(exit == 2, $"run {run}: exit {exit}: {captured}");
                Assert.Equal(cutAt, opens);
                Assert.Single(lines);
                Assert.True(lines[0].Contains("changed or was truncated while loading"), lines[0]);
                Assert.False(File.Exists(output), "an output file was written");
            }
        }
        finally
        {
            SafetensorsFile.AfterHeaderParsed -= truncate;
        }
    }
}

[CollectionDefinition(TruncatedCheckpointTests.Name, DisableParallelization = true)]
public sealed class TruncatedCheckpointCollection
{
}
