using Redraft.Diffusion.Tests;

namespace Redraft.Server.Tests;

/// <summary>Several clients at once: the jobs queue, and each answer is its own request's.</summary>
[Collection(ServerCollection.Name)]
public sealed class ConcurrencyApiTests(ServerFixture fixture)
{
    [SharedDataFact]
    public async Task FourClientsAtOnce_EachGetsItsOwnSeedAndPrompt()
    {
        await fixture.Server();
        var jobs = Enumerable.Range(0, 4).Select(i => fixture.Post("/sdapi/v1/txt2img",
            $$"""{"prompt": "picture {{i}}", "steps": 2, "width": 64, "height": 64, "seed": {{500 + i}}}""")).ToList();
        var answers = await Task.WhenAll(jobs);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(200, answers[i].Status);
            var info = TestImages.Info(answers[i].Json!);
            Assert.Equal(500 + i, info["seed"]!.GetValue<long>());
            Assert.Equal($"picture {i}", info["prompt"]!.GetValue<string>());
            Assert.StartsWith($"picture {i}\n", TestImages.Parameters(TestImages.Images(answers[i].Json!)[0]));
        }
    }
}
