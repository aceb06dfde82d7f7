/*
 * The floor Roleport's SAML verification is measured against: libxmlsec1 verifying every
 * ds:Signature of a document, with the same per-document work a careful SP does in C and nothing
 * more: parse the bytes, register the ID attributes, verify each signature (same-document
 * references only; exc-c14n, enveloped and SHA-2 digest transforms only, the narrowing Roleport's
 * `PinnedKey` uses), free the tree. No SAML checks at all (issuer, audience, times, subject).
 *
 * One source, two users (so both measure the same C):
 *   - benches/acs.rs builds it with gcc into its target tmp dir and runs it on one document per
 *     case, in both modes;
 *   - the load harness (deploy/load/run.sh builds it as .run/load/xmlsec_floor;
 *     tests/api/load_harness/verifiers.rs runs it) gives it all the Responses it sent, preparsed.
 *
 *   xmlsec_ref <cert.der|cert.pem> <preparsed|certder> <cpu-seconds> <doc.xml>...
 *
 * The certificate is PEM if it starts with "-----BEGIN", DER otherwise.
 * preparsed: the public key is taken from the certificate once, as a bare key, and duplicated
 *            into each signature context (xmlsec destroys the context's key with it).
 * certder:   the key is loaded from the certificate for each signature (what samael does).
 *
 * Every document is verified once before the clock starts (a document that does not verify is an
 * error, exit 1). Then the documents are verified in turn, in batches of at least 50 that go
 * through all of them, until the CPU budget is spent. Prints
 * "<documents verified per CPU-second> <documents verified>" on stdout: CPU time of this (only)
 * thread, so other load on the shared machine does not count against it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <xmlsec/crypto.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

static unsigned char *read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*len + 1);
    if (!buf || fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        fclose(f);
        free(buf);
        return NULL;
    }
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The certificate as given: PEM or DER. */
struct cert {
    const unsigned char *data;
    long len;
    int pem;
};

static X509 *parse_cert(const struct cert *c) {
    if (c->pem) {
        BIO *bio = BIO_new_mem_buf(c->data, (int)c->len);
        if (!bio) return NULL;
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        return x;
    }
    const unsigned char *p = c->data;
    return d2i_X509(NULL, &p, c->len);
}

static xmlSecKeyPtr bare_key(const struct cert *c) {
    X509 *cert = parse_cert(c);
    if (!cert) return NULL;
    EVP_PKEY *pkey = X509_get_pubkey(cert);
    X509_free(cert);
    if (!pkey) return NULL;
    xmlSecKeyDataPtr data = xmlSecOpenSSLEvpKeyAdopt(pkey);
    if (!data) return NULL;
    xmlSecKeyPtr key = xmlSecKeyCreate();
    if (!key || xmlSecKeySetValue(key, data) < 0) return NULL;
    return key;
}

static int verify_signature(xmlNodePtr sig, xmlSecKeyPtr preparsed, const struct cert *c) {
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    if (!ctx) return 0;
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id);
    ctx->signKey = preparsed
                       ? xmlSecKeyDuplicate(preparsed)
                       : xmlSecCryptoAppKeyLoadMemory(
                             c->data, (xmlSecSize)c->len,
                             c->pem ? xmlSecKeyDataFormatCertPem : xmlSecKeyDataFormatCertDer,
                             NULL, NULL, NULL);
    int ok = ctx->signKey && xmlSecDSigCtxVerify(ctx, sig) == 0 &&
             ctx->status == xmlSecDSigStatusSucceeded;
    xmlSecDSigCtxDestroy(ctx);
    return ok;
}

/* Every ds:Signature child of the root or of an element child of the root must verify. */
static int verify_document(const unsigned char *xml, long len, xmlSecKeyPtr preparsed,
                           const struct cert *c) {
    static const xmlChar *ids[] = {BAD_CAST "ID", NULL};
    xmlDocPtr doc = xmlReadMemory((const char *)xml, (int)len, NULL, NULL, XML_PARSE_NONET);
    if (!doc) return 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlSecAddIDs(doc, root, ids);
    int signatures = 0, ok = 1;
    for (xmlNodePtr n = root->children; n && ok; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (xmlSecCheckNodeName(n, xmlSecNodeSignature, xmlSecDSigNs)) {
            signatures++;
            ok = verify_signature(n, preparsed, c);
            continue;
        }
        for (xmlNodePtr k = n->children; k && ok; k = k->next) {
            if (k->type == XML_ELEMENT_NODE &&
                xmlSecCheckNodeName(k, xmlSecNodeSignature, xmlSecDSigNs)) {
                signatures++;
                ok = verify_signature(k, preparsed, c);
            }
        }
    }
    xmlFreeDoc(doc);
    return ok && signatures > 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: %s <cert.der|cert.pem> <preparsed|certder> <cpu-seconds> <doc.xml>...\n",
                argv[0]);
        return 2;
    }
    struct cert cert = {0};
    unsigned char *cert_data = read_file(argv[1], &cert.len);
    double budget = atof(argv[3]);
    int n = argc - 4;
    unsigned char **docs = calloc((size_t)n, sizeof *docs);
    long *lens = calloc((size_t)n, sizeof *lens);
    if (!cert_data || budget <= 0 || !docs || !lens) {
        fprintf(stderr, "cannot read %s, or the budget is not positive\n", argv[1]);
        return 2;
    }
    cert.data = cert_data;
    cert.pem = cert.len >= 10 && memcmp(cert_data, "-----BEGIN", 10) == 0;
    for (int i = 0; i < n; i++) {
        if (!(docs[i] = read_file(argv[i + 4], &lens[i]))) {
            fprintf(stderr, "cannot read %s\n", argv[i + 4]);
            return 2;
        }
    }
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0) {
        fprintf(stderr, "xmlsec init failed\n");
        return 2;
    }
    xmlSecKeyPtr preparsed = NULL;
    if (strcmp(argv[2], "preparsed") == 0) {
        preparsed = bare_key(&cert);
        if (!preparsed) {
            fprintf(stderr, "cannot take the key from %s\n", argv[1]);
            return 2;
        }
    } else if (strcmp(argv[2], "certder") != 0) {
        fprintf(stderr, "mode must be preparsed or certder\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (!verify_document(docs[i], lens[i], preparsed, &cert)) {
            fprintf(stderr, "%s does not verify\n", argv[i + 4]);
            return 1;
        }
    }
    /* A batch goes through every document, and is at least 50 long. */
    long batch = n * ((50 + n - 1) / n);
    long verified = 0;
    double start = cpu_now(), elapsed = 0;
    while (elapsed < budget) {
        for (long k = 0; k < batch; k++) {
            int i = (int)(k % n);
            if (!verify_document(docs[i], lens[i], preparsed, &cert)) {
                fprintf(stderr, "%s stopped verifying during the run\n", argv[i + 4]);
                return 1;
            }
        }
        verified += batch;
        elapsed = cpu_now() - start;
    }
    printf("%.1f %ld\n", (double)verified / elapsed, verified);
    if (preparsed) xmlSecKeyDestroy(preparsed);
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    for (int i = 0; i < n; i++) free(docs[i]);
    free(docs);
    free(lens);
    free(cert_data);
    return 0;
}
