namespace Redraft.Broker.Tests;

public class TopologyNameTests
{
    [Fact]
    public void Jobs_exchange_is_namespaced() => Assert.StartsWith("redraft.", BrokerTopology.JobsExchange);
}
