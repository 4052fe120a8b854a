using System.Buffers;
using System.Text;
using System.Text.Json;
using Steward.Core.Models;

namespace Steward.Core.Tests.Models;

/// <summary>The models listing contract: what the server writes is what <c>steward models list</c> reads.</summary>
public class ModelListingWireTests
{
    private static string Text(ModelsListing listing)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            ModelListingWire.Write(writer, listing);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static ModelsListing Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        return ModelListingWire.Read(document.RootElement);
    }

    private static readonly ModelsListing Sample = new("demo", "platform", ["eu-devs"], "r-12", true, "claude-sonnet",
        new ListedFallback("claude-opus", "claude-sonnet", "disabled_by_policy", "The default model 'claude-opus' is not available (disabled_by_policy); 'claude-sonnet' is used instead."),
        [
            new ListedModel("auto", "Auto", "Chosen per task", "steward", "ga", null, [], [], false, null, true, null, false, "eu", null, "claude-sonnet"),
            new ListedModel("claude-sonnet", "Claude Sonnet", "Balanced", "anthropic", "ga", "regional", ["EU", "US"], ["sonnet"], false, "enabled", true, null, true, "eu", "eu.anthropic.claude-sonnet"),
            new ListedModel("claude-opus", "Claude Opus", "Largest", "anthropic", "ga", "global", [], [], false, "disabled", false, "disabled_by_policy", false, Successor: "claude-opus-5", RetiresOn: "2027-01-31"),
        ]);

    [Fact]
    public void A_listing_written_by_the_server_reads_back_and_writes_the_same_text()
    {
        var text = Text(Sample);
        var read = Read(text);
        Assert.Equal(text, Text(read));
        Assert.Equal("platform", read.Account);
        Assert.Equal(["eu-devs"], read.Groups);
        Assert.Equal("claude-sonnet", read.Models[0].ResolvesTo);
        Assert.Null(read.Models[0].Scope);
        Assert.True(read.Models[1].IsDefault);
        Assert.Equal(["EU", "US"], read.Models[1].Geographies);
        Assert.Equal("disabled_by_policy", read.Models[2].Reason);
        Assert.Null(read.Models[2].Placement);
        Assert.Equal("2027-01-31", read.Models[2].RetiresOn);
        Assert.Equal("claude-sonnet", read.DefaultFallback!.Actual);
    }

    [Fact]
    public void An_unavailable_model_carries_no_placement_and_a_state_only_when_given()
    {
        using var document = JsonDocument.Parse(Text(Sample));
        var models = document.RootElement.GetProperty("models");
        Assert.False(models[2].TryGetProperty("placement", out _));
        Assert.False(models[2].TryGetProperty("providerModelId", out _));
        Assert.False(models[0].TryGetProperty("state", out _));
        Assert.Equal(JsonValueKind.Null, models[0].GetProperty("scope").ValueKind);
        Assert.Equal(JsonValueKind.Null, models[0].GetProperty("providerModelId").ValueKind);
    }

    [Fact]
    public void A_listing_as_earlier_servers_wrote_it_and_with_members_this_reader_does_not_know_is_read()
    {
        var listing = Read("""
            {"organisation":"demo","account":null,"groups":[],"revision":"3","controlEnabled":false,"defaultModel":null,"defaultFallback":null,
             "models":[{"id":"m","displayName":"M","description":"","provider":"p","status":"preview","scope":"regional","geographies":["EU"],"aliases":[],
                        "openWeights":true,"available":true,"reason":null,"default":false,"placement":"eu","providerModelId":null,"newMember":{"x":1}}],
             "futureMember":1}
            """);
        Assert.Null(listing.Account);
        Assert.Single(listing.Models);
        Assert.True(listing.Models[0].OpenWeights);
        Assert.Equal("eu", listing.Models[0].Placement);
    }

    [Theory]
    [InlineData("""[]""", "$")]
    [InlineData("""{"organisation":"demo","revision":"1","controlEnabled":true}""", "$.models")]
    [InlineData("""{"organisation":"demo","revision":"1","controlEnabled":true,"models":[{"id":"m","displayName":"M","status":"ga"}]}""", "$.models[0].available")]
    [InlineData("""{"organisation":"demo","revision":"1","controlEnabled":true,"models":[{"id":3,"displayName":"M","status":"ga","available":true}]}""", "$.models[0].id")]
    [InlineData("""{"organisation":"demo","revision":"1","controlEnabled":"yes","models":[]}""", "$.controlEnabled")]
    public void A_listing_this_reader_cannot_use_is_refused_naming_where(string json, string path)
    {
        var refused = Assert.Throws<ModelListingException>(() => Read(json));
        Assert.Equal(path, refused.Path);
    }
}
