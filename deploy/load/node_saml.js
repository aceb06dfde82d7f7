// node-saml (the core of passport-saml) verifying the harness's Responses in-process, as a
// Node SP would: signature of the Response and of the Assertion required, issuer, audience,
// times and destination checked by node-saml's validatePostResponseAsync.
//
//   node node_saml.js <node_modules dir> <cert.pem> <cpu-seconds> <sp entity id> <acs url> <doc.xml>...
//
// Prints "<documents verified per CPU-second> <documents verified>" (this process's CPU time).
"use strict";
const fs = require("fs");
const path = require("path");
const [modules, certFile, budget, spEntityId, acsUrl, ...files] = process.argv.slice(2);
const { SAML } = require(path.join(modules, "@node-saml/node-saml"));

const saml = new SAML({
  callbackUrl: acsUrl,
  issuer: spEntityId,
  audience: spEntityId,
  idpCert: fs.readFileSync(certFile, "utf8"),
  wantAssertionsSigned: true,
  wantAuthnResponseSigned: true,
  validateInResponseTo: "never",
});
const docs = files.map((f) => Buffer.from(fs.readFileSync(f)).toString("base64"));

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

(async () => {
  const start = cpu();
  let verified = 0;
  while (cpu() - start < Number(budget)) {
    for (const SAMLResponse of docs) {
      const { profile } = await saml.validatePostResponseAsync({ SAMLResponse });
      if (!profile || !profile.nameID) throw new Error("no profile");
      verified++;
    }
  }
  console.log(`${(verified / (cpu() - start)).toFixed(1)} ${verified}`);
})().catch((e) => {
  console.error(e.message || e);
  process.exit(1);
});
