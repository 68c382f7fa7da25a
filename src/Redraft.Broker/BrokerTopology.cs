namespace Redraft.Broker;

/// <summary>The names of the exchanges and queues a Redraft fleet shares on its broker.</summary>
public static class BrokerTopology
{
    /// <summary>Direct exchange the server publishes jobs to, routed by model key.</summary>
    public const string JobsExchange = "redraft.jobs";
}
