export interface DirectoriesTable {
  tenant_id: string;
  display_name: string;
  default_domain: string;
  kind: string;
  created_at: Date;
}

export interface UsersTable {
  object_id: string;
  tenant_id: string;
  user_principal_name: string;
  display_name: string;
  mail: string | null;
  user_type: 'Member' | 'Guest';
  password_hash: string | null;
  /** For a guest: the member account of the same person in its home directory. */
  home_object_id: string | null;
  created_at: Date;
  /** 'GlobalAdministrator' for a directory's administrators. */
  directory_role: string | null;
  /** False blocks sign-in (graph's accountEnabled). */
  account_enabled: boolean;
  /** Failed password sign-ins in a row; at the threshold the account locks for a while. */
  failed_sign_ins: number;
  locked_until: Date | null;
}

export interface InvitationsTable {
  id: string;
  tenant_id: string;
  invited_user_id: string;
  invited_email: string;
  invited_display_name: string | null;
  invite_redirect_url: string;
  status: 'PendingAcceptance' | 'Completed';
  invited_by: string;
  created_at: Date;
  completed_at: Date | null;
}

export interface ApplicationsTable {
  app_id: string;
  home_tenant_id: string | null;
  display_name: string;
  identifier_uris: string[];
  public_client: boolean;
  created_at: Date;
  /** The system's own automation: its secrets are kept sealed too, to be written to bootstrap.json again. */
  holds_secret: boolean;
}

export interface ServicePrincipalsTable {
  object_id: string;
  tenant_id: string;
  app_id: string;
  display_name: string;
  created_at: Date;
}

export interface ClientSecretsTable {
  id: string;
  app_id: string;
  secret_hash: string;
  hint: string;
  display_name: string | null;
  /** Only for an application that holds its secret: the secret, sealed. */
  sealed_secret: string | null;
  created_at: Date;
  expires_at: Date;
}

/** A certificate an application published (Graph's keyCredentials) to verify what it signs. */
export interface KeyCredentialsTable {
  key_id: string;
  app_id: string;
  type: string;
  usage: string;
  display_name: string | null;
  /** Graph's customKeyIdentifier: the certificate's SHA-1 thumbprint unless the caller named one. */
  custom_key_identifier: string;
  /** The X.509 certificate, DER. */
  certificate: Buffer;
  start_date_time: Date;
  end_date_time: Date;
  created_at: Date;
}

export interface SigningKeysTable {
  kid: string;
  /** Only in a key made before sealing, until the next start seals it. */
  private_jwk: Record<string, unknown> | null;
  /** The private JWK, sealed. */
  private_key_sealed: string | null;
  public_jwk: Record<string, unknown>;
  created_at: Date;
}

export interface IdentityTables {
  directories: DirectoriesTable;
  users: UsersTable;
  applications: ApplicationsTable;
  service_principals: ServicePrincipalsTable;
  client_secrets: ClientSecretsTable;
  signing_keys: SigningKeysTable;
  key_credentials: KeyCredentialsTable;
  invitations: InvitationsTable;
}
