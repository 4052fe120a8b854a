namespace Steward.Server.Registry;

/// <summary>
/// Which rows a registry reader reads: the organisation's hosted registry (<c>registry_entries</c>), or the last good copy
/// of a profile's external registry (<c>external_registry_entries</c>, written by <see cref="ExternalRegistries"/>). Both
/// tables have the same columns, so the Registry API, the bundle and the exports read either with the same queries.
/// </summary>
internal sealed record RegistrySource(string Table, string KeyColumn, string Key, string CacheId, bool IsExternal)
{
    public static RegistrySource Hosted(string organisationId) => new("registry_entries", "organisation_id", organisationId, organisationId, false);

    public static RegistrySource External(string profileId) => new("external_registry_entries", "profile_id", profileId, "external:" + profileId, true);

    /// <summary>The registry a profile's developers and hosts read: its external copy when the mode is external, else the organisation's.</summary>
    public static RegistrySource Of(EffectiveProfile effective)
    {
        ArgumentNullException.ThrowIfNull(effective);
        return effective.Settings.RegistryMode == RegistryModes.External && effective.Profile.Id.Length > 0
            ? External(effective.Profile.Id)
            : Hosted(effective.Organisation.Id);
    }

    /// <summary><c>{table} WHERE {key column} = @org</c>: the start of every query, with the key bound as <c>@org</c>.</summary>
    public string From => $"{Table} WHERE {KeyColumn} = @org";
}
