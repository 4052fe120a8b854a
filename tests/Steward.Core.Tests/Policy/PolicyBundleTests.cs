using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Steward.Core.Policy;

namespace Steward.Core.Tests.Policy;

public sealed class PolicyBundleTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static byte[] Payload(DateTimeOffset iat, DateTimeOffset exp, string extra = "\"revision\":\"1\"") =>
        Encoding.UTF8.GetBytes($"{{\"iat\":{iat.ToUnixTimeSeconds()},\"exp\":{exp.ToUnixTimeSeconds()},{extra}}}");

    private static (ECDsa Key, EcPublicJwk Jwk) NewKey()
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (key, EcPublicJwk.FromKey(key));
    }

    [Fact]
    public void A_signed_bundle_verifies_with_its_key_and_gives_back_the_payload_and_times()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var payload = Payload(Now, Now.AddHours(48));
        var jws = PolicyBundle.Sign(payload, key, jwk.Kid);

        var result = PolicyBundle.Verify(jws, [jwk], Now.AddHours(1));

        Assert.True(result.IsValid, result.Error);
        Assert.Equal(jwk.Kid, result.Kid);
        Assert.Equal(payload, result.Payload);
        Assert.Equal(Now, result.IssuedAt);
        Assert.Equal(Now.AddHours(48), result.ExpiresAt);
    }

    [Fact]
    public void The_compact_form_is_three_base64url_parts_with_an_es256_header_and_a_64_byte_signature()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var parts = PolicyBundle.Sign(Payload(Now, Now.AddDays(1)), key, jwk.Kid).Split('.');

        Assert.Equal(3, parts.Length);
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(jwk.Kid, header.RootElement.GetProperty("kid").GetString());
        Assert.Equal(PolicyBundle.BundleType, header.RootElement.GetProperty("typ").GetString());
        Assert.Equal(64, Base64Url.DecodeFromChars(parts[2]).Length);
        Assert.DoesNotContain('=', string.Concat(parts));
    }

    [Fact]
    public void The_key_id_is_the_rfc_7638_thumbprint()
    {
        // The value computed independently (Python hashlib over the RFC 7638 member order crv, kty, x, y).
        var jwk = new EcPublicJwk("", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
        Assert.Equal("oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U", EcPublicJwk.Thumbprint(jwk.X, jwk.Y));
    }

    [Fact]
    public void A_bundle_signed_by_a_key_that_is_not_pinned_is_refused()
    {
        var (key, jwk) = NewKey();
        var (other, otherJwk) = NewKey();
        using var _ = key;
        using var __ = other;
        var jws = PolicyBundle.Sign(Payload(Now, Now.AddDays(1)), key, jwk.Kid);

        var result = PolicyBundle.Verify(jws, [otherJwk], Now);

        Assert.False(result.IsValid);
        Assert.Contains("not a trusted", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bundle_whose_kid_names_the_pinned_key_but_was_signed_by_another_is_refused()
    {
        var (key, jwk) = NewKey();
        var (attacker, _) = NewKey();
        using var k1 = key;
        using var k2 = attacker;
        var forged = PolicyBundle.Sign(Payload(Now, Now.AddDays(1)), attacker, jwk.Kid);

        var result = PolicyBundle.Verify(forged, [jwk], Now);

        Assert.False(result.IsValid);
        Assert.Contains("does not verify", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_changed_payload_is_refused()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var parts = PolicyBundle.Sign(Payload(Now, Now.AddDays(1), "\"mcpEnabled\":false"), key, jwk.Kid).Split('.');
        var tampered = parts[0] + "." + Base64Url.EncodeToString(Payload(Now, Now.AddDays(1), "\"mcpEnabled\":true")) + "." + parts[2];

        Assert.False(PolicyBundle.Verify(tampered, [jwk], Now).IsValid);
    }

    [Fact]
    public void An_expired_bundle_is_refused_and_the_clock_skew_is_allowed()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var jws = PolicyBundle.Sign(Payload(Now, Now.AddHours(1)), key, jwk.Kid);

        Assert.True(PolicyBundle.Verify(jws, [jwk], Now.AddHours(1).AddMinutes(4)).IsValid);
        var expired = PolicyBundle.Verify(jws, [jwk], Now.AddHours(1).AddMinutes(5));
        Assert.False(expired.IsValid);
        Assert.Contains("expired", expired.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bundle_issued_in_the_future_is_refused()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var jws = PolicyBundle.Sign(Payload(Now.AddHours(1), Now.AddDays(1)), key, jwk.Kid);

        Assert.False(PolicyBundle.Verify(jws, [jwk], Now).IsValid);
        Assert.True(PolicyBundle.Verify(jws, [jwk], Now.AddMinutes(56)).IsValid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("!!!.b.c")]
    [InlineData("e30.e30.")]
    public void Malformed_input_is_refused_without_throwing(string compact)
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        Assert.False(PolicyBundle.Verify(compact, [jwk], Now).IsValid);
    }

    [Theory]
    [InlineData("{\"alg\":\"none\",\"kid\":\"K\",\"typ\":\"steward-policy+jws\"}", "alg")]
    [InlineData("{\"alg\":\"HS256\",\"kid\":\"K\",\"typ\":\"steward-policy+jws\"}", "alg")]
    [InlineData("{\"alg\":\"ES256\",\"typ\":\"steward-policy+jws\"}", "kid")]
    [InlineData("{\"alg\":\"ES256\",\"kid\":\"K\",\"typ\":\"steward-policy+jws\",\"crit\":[\"b64\"]}", "critical")]
    [InlineData("{\"alg\":\"ES256\",\"kid\":\"K\",\"typ\":\"JWT\"}", "typ")]
    public void A_header_other_than_es256_with_kid_and_the_bundle_type_is_refused(string header, string reason)
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header.Replace("\"K\"", "\"" + jwk.Kid + "\"", StringComparison.Ordinal))) + "." +
            Base64Url.EncodeToString(Payload(Now, Now.AddDays(1)));
        var jws = PolicyBundle.SignInput(input, key);

        var result = PolicyBundle.Verify(jws, [jwk], Now);

        Assert.False(result.IsValid);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_payload_without_iat_and_exp_is_refused()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var jws = PolicyBundle.Sign("{\"revision\":\"1\"}"u8, key, jwk.Kid);

        var result = PolicyBundle.Verify(jws, [jwk], Now);

        Assert.False(result.IsValid);
        Assert.Contains("iat and exp", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_jwk_and_a_jwk_set_round_trip_through_their_json()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var single = EcPublicJwk.ParseKeys(jwk.ToJson());
        var set = EcPublicJwk.ParseKeys("{\"keys\":[" + jwk.ToJson() + ",{\"kty\":\"RSA\",\"n\":\"x\",\"e\":\"AQAB\"}]}");

        Assert.Equal([jwk], single);
        Assert.Equal([jwk], set);
        Assert.True(jwk.KidIsThumbprint);
        using var document = JsonDocument.Parse(jwk.ToJson());
        Assert.Equal("EC", document.RootElement.GetProperty("kty").GetString());
        Assert.Equal("P-256", document.RootElement.GetProperty("crv").GetString());
        Assert.Equal("sig", document.RootElement.GetProperty("use").GetString());
        Assert.Equal("ES256", document.RootElement.GetProperty("alg").GetString());
    }

    [Fact]
    public void A_jwk_whose_point_is_not_on_the_curve_is_refused_at_verification()
    {
        var (key, jwk) = NewKey();
        using var _ = key;
        var jws = PolicyBundle.Sign(Payload(Now, Now.AddDays(1)), key, jwk.Kid);
        var bad = jwk with { Y = Base64Url.EncodeToString(new byte[32]) };

        Assert.False(PolicyBundle.Verify(jws, [bad], Now).IsValid);
    }

    [Fact]
    public void A_retiring_key_endorses_its_successor_and_a_client_pinned_to_it_can_re_pin()
    {
        var (old, oldJwk) = NewKey();
        var (next, nextJwk) = NewKey();
        using var k1 = old;
        using var k2 = next;
        var endorsement = PolicyBundle.Endorse(nextJwk, old, oldJwk.Kid, Now, Now.AddDays(30));

        var endorsed = PolicyBundle.VerifyEndorsement(endorsement, [oldJwk], Now.AddDays(1), out var error);

        Assert.Null(error);
        Assert.Equal(nextJwk, endorsed);
        var bundle = PolicyBundle.Sign(Payload(Now.AddDays(1), Now.AddDays(3)), next, nextJwk.Kid);
        Assert.True(PolicyBundle.Verify(bundle, [endorsed!], Now.AddDays(1)).IsValid);
        // An endorsement is not a bundle and a bundle is not an endorsement.
        Assert.False(PolicyBundle.Verify(endorsement, [oldJwk], Now).IsValid);
        Assert.Null(PolicyBundle.VerifyEndorsement(bundle, [nextJwk], Now.AddDays(1), out _));
        // An endorsement from a key that is not pinned gives nothing.
        Assert.Null(PolicyBundle.VerifyEndorsement(endorsement, [nextJwk], Now, out var untrusted));
        Assert.NotNull(untrusted);
    }
}
