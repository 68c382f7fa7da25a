namespace Redraft.Broker;

/// <summary>How <c>redraft worker</c> runs.</summary>
public sealed record WorkerOptions
{
    /// <summary>The broker it takes jobs from.</summary>
    public required BrokerAddress Broker { get; init; }

    /// <summary>Its name in the fleet (<c>GET /api/v1/workers</c>); unique per worker.</summary>
    public required string Name { get; init; }

    /// <summary>Its models folder: the checkpoints it serves, LoRAs in <c>Lora/</c>, VAEs in <c>VAE/</c>.</summary>
    public required string ModelsDir { get; init; }

    /// <summary>Checkpoints outside the models folder it serves too.</summary>
    public IReadOnlyList<string> ExtraCheckpoints { get; init; } = [];

    /// <summary>CPU threads of every generation (null = each job's own, as the server resolved it).</summary>
    public int? Threads { get; init; }

    /// <summary>The CLIP vocabulary folder (null = the usual search order).</summary>
    public string? Tokenizer { get; init; }

    /// <summary>The TAESD folder for previews (null = <c>$REDRAFT_HOME/taesd</c>).</summary>
    public string? Taesd { get; init; }
}
