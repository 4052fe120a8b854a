namespace Steward.Server;

/// <summary>
/// The 256-bit key that seals secrets at rest: the policy signing keys (<see cref="Policy.SigningKeys"/>) and the
/// identity providers' client secrets (<see cref="Identity.SecretBox"/>). <c>STEWARD_KEY_ENCRYPTION_KEY</c> (base64 of
/// 32 bytes) when set, else the file <c>&lt;data-dir&gt;/signing-keys.kek</c>, created 0600 with 32 random bytes at
/// first start. It sits with the other shared services, not in either feature, so that neither imports the other.
/// </summary>
internal static class KeyEncryptionKey
{
    public const string FileName = "signing-keys.kek";
    public const string Variable = "STEWARD_KEY_ENCRYPTION_KEY";

    public static byte[] Load(string dataDir) =>
        SealingKeyFile.Load(dataDir, FileName, Variable, "the policy signing keys", Environment.GetEnvironmentVariable);
}
