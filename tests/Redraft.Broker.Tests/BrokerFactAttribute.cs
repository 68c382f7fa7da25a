using Redraft.Tests.Shared;

namespace Redraft.Broker.Tests;

/// <summary>
/// A test that needs a real RabbitMQ node (<see cref="RabbitBroker"/>): skipped, with the reason shown, when Debian's
/// <c>rabbitmq-server</c> is not installed; under <c>CI=true</c> it is never skipped (see <see cref="RabbitBroker.SkipReason"/>),
/// so a missing broker fails the run with <see cref="RabbitBroker.MissingReason"/>.
/// </summary>
public sealed class BrokerFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute; sets <see cref="FactAttribute.Skip"/> when RabbitMQ is missing.</summary>
    public BrokerFactAttribute()
    {
        Skip = RabbitBroker.SkipReason;
    }
}
