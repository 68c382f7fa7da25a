using System.Diagnostics;
using Redraft.Diffusion.Tests;

namespace Redraft.Cli.Tests;

/// <summary>Runs only where a small tmpfs can be mounted (root, as on the CI machines); skipped elsewhere with the reason.</summary>
public sealed class MountFactAttribute : FactAttribute
{
    public MountFactAttribute()
    {
        if (SharedData.SkipReason is { } missing)
            Skip = missing;
        else if ((!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/usr/bin/mount") && !File.Exists("/bin/mount")))
            Skip = "needs root and mount(8) to make a small full file system";
    }
}

/// <summary>
/// A full disk is not the user's typing mistake nor a bug: exit 1 with the system's words and what to do, no request
/// for a bug report, nothing half-written, and a document left as it was.
/// </summary>
[Collection(CliModelCollection.Name)]
public sealed class DiskFullTests(CliModelFixture f)
{
    /// <summary>Mounts a tmpfs of <paramref name="kilobytes"/> on a new folder and unmounts it when disposed.</summary>
    private sealed class SmallDisk : IDisposable
    {
        public string Folder { get; } = Directory.CreateTempSubdirectory("redraft-full-").FullName;

        public SmallDisk(int kilobytes) => Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", Folder);

        /// <summary>Takes all the space left.</summary>
        public void Fill()
        {
            using var filler = File.Create(Path.Combine(Folder, "filler"));
            var block = new byte[4096];
            try { while (true) filler.Write(block); }
            catch (IOException) { }
        }

        public void Free() => File.Delete(Path.Combine(Folder, "filler"));

        public void Dispose()
        {
            Run("umount", Folder);
            Directory.Delete(Folder, true);
        }

        private static void Run(string program, params string[] args)
        {
            using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true })!;
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)}: {error}");
        }
    }

    private static void AssertDiskFull(RedraftProcess.Result run)
    {
        Assert.True(run.ExitCode == 1, $"exit {run.ExitCode}: {run.Stderr}");
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("redraft:"));
        Assert.Contains("nothing was saved", line);
        Assert.Contains("free some disk space", line);
        Assert.DoesNotContain("report", line);
    }

    [MountFact]
    public void AnImageThatDoesNotFitExitsOneAndLeavesNothing()
    {
        using var disk = new SmallDisk(256);
        disk.Fill();
        string output = Path.Combine(disk.Folder, "out.png");
        var run = RedraftProcess.Run(f.Generate("txt2img", output));
        AssertDiskFull(run);
        Assert.Contains("No space left on device", run.Stderr);
        Assert.Equal(["filler"], Directory.GetFileSystemEntries(disk.Folder).Select(Path.GetFileName));
    }

    [MountFact]
    public void AGenerationThatDoesNotFitLeavesTheDocumentAsItWas()
    {
        using var disk = new SmallDisk(1024);
        string doc = Path.Combine(disk.Folder, "doc");
        string sketch = DocTestKit.Png(f.NewPath("sketch.png"), 64, 64, 90, 160, 220);
        Assert.Equal(0, RedraftProcess.Run("doc", "new", doc, "--from", sketch).ExitCode);
        string before = DocTestKit.Snapshot(doc);
        disk.Fill();
        AssertDiskFull(RedraftProcess.Run("doc", "generate", doc, "--model", f.Model, "--tokenizer", SharedData.ClipDir,
            "--prompt", "a harbour", "--steps", "2", "--seed", "7", "--threads", "1"));
        disk.Free();
        Assert.Equal(before, DocTestKit.Snapshot(doc));
        var verify = RedraftProcess.Run("doc", "verify", doc);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
    }
}
