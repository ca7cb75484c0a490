// The upstream OpenID provider of authgate's federation tests, on loopback:
// npm oidc-provider with its development interactions, where any login name
// and any password sign in. The login name is the person's `sub`; the
// address is "<sub>@upstream.example", verified unless the name starts with
// "unverified", until a test moves it:
//   POST /test/address?sub=<sub>&email=<address>
// Clients "authgate" and "authgate-trusted", secret "<id>-secret", redirecting
// to REDIRECT_URI (authgate's /oauth2/idpresponse).
//   PORT=3400 REDIRECT_URI=http://127.0.0.1:8080/oauth2/idpresponse node server.mjs
import Provider from "oidc-provider";

const port = Number(process.env.PORT ?? 3400);
const issuer = `http://127.0.0.1:${port}`;
const redirectUri = process.env.REDIRECT_URI ?? "http://127.0.0.1:8080/oauth2/idpresponse";
const movedAddresses = new Map();

const provider = new Provider(issuer, {
  clients: ["authgate", "authgate-trusted"].map((clientId) => ({
    client_id: clientId,
    client_secret: `${clientId}-secret`,
    redirect_uris: [redirectUri],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  })),
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        email: movedAddresses.get(sub) ?? `${sub}@upstream.example`,
        email_verified: !sub.startsWith("unverified"),
        name: `Upstream ${sub}`,
      }),
    };
  },
});
provider.use(async (ctx, next) => {
  if (ctx.method === "POST" && ctx.path === "/test/address") {
    movedAddresses.set(ctx.query.sub, ctx.query.email);
    ctx.status = 204;
    return;
  }
  await next();
});
const server = provider.listen(port, "127.0.0.1", () => console.error(`upstream OP on ${issuer}`));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
