using System.Security.Cryptography;

namespace Steward.Server;

/// <summary>
/// A 256-bit key that seals secrets at rest: the base64 value of an environment variable when set (every instance on one
/// database must share it), else a file in the data directory, created 0600 with 32 random bytes on first use.
/// </summary>
internal static class SealingKeyFile
{
    /// <param name="purpose">What the key seals, for messages: "the policy signing keys", "the model upstreams' API keys".</param>
    public static byte[] Load(string dataDir, string fileName, string variable, string purpose, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment(variable) is { Length: > 0 } text)
        {
            var bytes = new byte[64];
            if (!Convert.TryFromBase64String(text.Trim(), bytes, out var written) || written != 32)
            {
                throw new ServeException(variable, "expected the base64 encoding of 32 random bytes; generate one with: openssl rand -base64 32");
            }

            return bytes[..32];
        }

        var directory = Path.GetFullPath(dataDir);
        var file = Path.Combine(directory, fileName);
        try
        {
            if (File.Exists(file))
            {
                return ReadExisting(file, purpose);
            }

            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var key = RandomNumberGenerator.GetBytes(32);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(file, options))
            {
                stream.Write(key);
                stream.Flush(flushToDisk: true);
            }

            return key;
        }
        catch (IOException) when (File.Exists(file))
        {
            // Another instance on the same data directory created it first.
            return ReadExisting(file, purpose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServeException("--data-dir", $"cannot keep {fileName} (the key that seals {purpose}) in {directory}: {(e is UnauthorizedAccessException ? "permission denied" : e.Message)}", e);
        }
    }

    private static byte[] ReadExisting(string file, string purpose)
    {
        var bytes = File.ReadAllBytes(file);
        return bytes.Length == 32
            ? bytes
            : throw new ServeException("--data-dir", $"{file} must hold exactly 32 bytes (the key that seals {purpose}); it holds {bytes.Length}");
    }
}
