using System.Security.Cryptography;
using Steward.Agent.Sources;
using Steward.Core.Policy;

namespace Steward.Agent.Tests.Sync;

public sealed class KeyPinningTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    private static (ECDsa Key, EcPublicJwk Jwk) NewKey()
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (key, EcPublicJwk.FromKey(key));
    }

    private static string Endorse((ECDsa Key, EcPublicJwk Jwk) by, EcPublicJwk successor, TimeSpan? validFor = null) =>
        PolicyBundle.Endorse(successor, by.Key, by.Jwk.Kid, Now - TimeSpan.FromHours(1), Now + (validFor ?? TimeSpan.FromDays(30)));

    [Fact]
    public void A_chain_of_endorsements_from_a_pinned_key_is_followed_in_any_order()
    {
        var a = NewKey();
        var b = NewKey();
        var c = NewKey();
        var published = new ServerKeySet([c.Jwk, b.Jwk, a.Jwk], [Endorse(b, c.Jwk), Endorse(a, b.Jwk)]);

        var pins = KeyPinning.Follow([new PinnedKey(a.Jwk)], published, c.Jwk.Kid, Now, out var error);

        Assert.Null(error);
        Assert.Equal([a.Jwk.Kid, b.Jwk.Kid, c.Jwk.Kid], pins!.Select(p => p.Jwk.Kid));
        Assert.Equal(Now + TimeSpan.FromDays(30), pins![0].TrustedUntil);
        Assert.Null(pins[2].TrustedUntil);
    }

    [Fact]
    public void An_endorsement_by_a_key_that_is_not_pinned_proves_nothing()
    {
        var pinned = NewKey();
        var stranger = NewKey();
        var successor = NewKey();
        var published = new ServerKeySet([successor.Jwk, stranger.Jwk], [Endorse(stranger, successor.Jwk)]);

        var pins = KeyPinning.Follow([new PinnedKey(pinned.Jwk)], published, successor.Jwk.Kid, Now, out var error);

        Assert.Null(pins);
        Assert.Contains("neither pinned", error);
    }

    [Fact]
    public void An_expired_endorsement_or_an_expired_pin_does_not_extend_trust()
    {
        var a = NewKey();
        var b = NewKey();
        var expired = PolicyBundle.Endorse(b.Jwk, a.Key, a.Jwk.Kid, Now - TimeSpan.FromDays(40), Now - TimeSpan.FromDays(10));

        Assert.Null(KeyPinning.Follow([new PinnedKey(a.Jwk)], new ServerKeySet([b.Jwk], [expired]), b.Jwk.Kid, Now, out _));
        Assert.Null(KeyPinning.Follow([new PinnedKey(a.Jwk, Now - TimeSpan.FromMinutes(1))], new ServerKeySet([b.Jwk], [Endorse(a, b.Jwk)]), b.Jwk.Kid, Now, out _));
    }
}
