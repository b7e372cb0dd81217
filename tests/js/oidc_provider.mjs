// A real OpenID Connect provider (the npm package oidc-provider, the certified implementation)
// for the sign-in tests, on 127.0.0.1. Started by tests/integration/test_web_oidc.py:
//   node oidc_provider.mjs '{"port": P, "clientId": "...", "clientSecret": "...",
//                            "redirectUri": "...", "postLogoutRedirectUri": "...",
//                            "tokenAuthMethod": "client_secret_basic"}'
// Users: any login name; "alice*" hold the role alice-member, "noroles*" have no roles claim at
// all (as when a provider omits an empty one), everyone else only default-role.
// Roles are in the `profile` scope's `cern_roles` claim, which oidc-provider (by default, as the
// spec says for the code flow) gives from userinfo, not in the ID token.
// Prints "listening <issuer>" once it accepts connections.
import Provider from 'oidc-provider';
import crypto from 'node:crypto';

const job = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${job.port}`;

const signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
signingKey.kid = 'test-rsa-1';
signingKey.use = 'sig';
signingKey.alg = 'RS256';

const provider = new Provider(issuer, {
  clients: [{
    client_id: job.clientId,
    client_secret: job.clientSecret,
    redirect_uris: [job.redirectUri],
    post_logout_redirect_uris: [job.postLogoutRedirectUri],
    token_endpoint_auth_method: job.tokenAuthMethod || 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'cern_roles'], email: ['email'] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const member = id.startsWith('alice');
    return {
      accountId: id,
      async claims() {
        const claims = {
          sub: id,
          name: member ? 'Alice Member' : 'Bob Outsider',
          email: `${id}@example.org`,
        };
        if (!id.startsWith('noroles')) {
          claims.cern_roles = member ? ['default-role', 'alice-member'] : ['default-role'];
        }
        return claims;
      },
    };
  },
});
provider.on('server_error', (ctx, err) => console.error('provider server_error', err));

const server = provider.listen(job.port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
