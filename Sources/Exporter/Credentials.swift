import Foundation
import Logging
import MediationCore

/// Reads the OAuth client credentials: from the files the configuration names, else from the
/// environment. Errors name where the value was looked for, never the value.
enum CredentialLoader {
    static func load(
        _ zuora: ExporterConfig.Zuora,
        environment: [String: String],
        logger: Logger
    ) throws(ConfigError)
        -> ZuoraCredentials
    {
        let id = try value(
            file: zuora.clientIdFile,
            key: "zuora.client_id_file",
            env: "ZUORA_CLIENT_ID",
            environment,
            logger
        )
        let secret = try value(
            file: zuora.clientSecretFile,
            key: "zuora.client_secret_file",
            env: "ZUORA_CLIENT_SECRET",
            environment,
            logger
        )
        return ZuoraCredentials(clientId: id, clientSecret: secret)
    }

    /// The callout receiver's password and HMAC key, from the files the `webhook:` section names.
    static func loadWebhook(_ webhook: WebhookConfig, logger: Logger) throws(ConfigError) -> WebhookSecrets {
        var secrets = WebhookSecrets(basicPassword: nil, hmacKey: nil)
        if let basic = webhook.basicAuth {
            let text = try value(
                file: basic.passwordFile,
                key: "webhook.basic_auth.password_file",
                env: "",
                [:],
                logger
            )
            secrets.basicPassword = Array(text.utf8)
        }
        if let hmac = webhook.hmac {
            let text = try value(file: hmac.secretFile, key: "webhook.hmac.secret_file", env: "", [:], logger)
            secrets.hmacKey = Array(text.utf8)
        }
        return secrets
    }

    /// A secret given by a command-line flag, e.g. `--shard.peer-secret-file` (trimmed, non-empty).
    static func file(_ path: String, flag: String, logger: Logger) throws(ConfigError) -> String {
        try value(file: path, key: flag, env: "", [:], logger)
    }

    private static func value(
        file: String?,
        key: String,
        env: String,
        _ environment: [String: String],
        _ logger: Logger
    ) throws(ConfigError) -> String {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigError(
                    path: key,
                    line: nil,
                    message: "cannot read \(file); check the path and its permissions"
                )
            }
            if let attributes = try? FileManager.default.attributesOfItem(atPath: file),
                let mode = attributes[.posixPermissions] as? Int, mode & 0o004 != 0
            {
                logger.warning("secret file is readable by every user; chmod o-r it", metadata: ["file": "\(file)"])
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw ConfigError(path: key, line: nil, message: "\(file) is empty") }
            return text
        }
        guard let text = environment[env]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
            throw ConfigError(path: key, line: nil, message: "no credential: set \(env) or \(key)")
        }
        return text
    }
}
