/*
 * The floor for the load harness's side-by-side table: libxmlsec1 verifying every ds:Signature of
 * the same Responses Roleport was sent, with the IdP's public key parsed once from its certificate
 * and duplicated into each signature context. Per document: parse, register the ID attributes,
 * verify each signature (same-document references; exc-c14n, enveloped, SHA-2 only), free. No
 * SAML checks at all (issuer, audience, times, subject): only the XML-DSig work a SAML SP cannot
 * skip. (Branch `perf` has a fuller reference, benches/xmlsec_ref/xmlsec_ref.c; this one is kept
 * apart so the harness does not depend on it.)
 *
 *   xmlsec_floor <cert.pem> <cpu-seconds> <doc.xml>...
 *
 * Prints "<documents verified per CPU-second> <documents verified>": CPU time of this process,
 * so other load on the shared machine does not count against it.
 */
#include <stdio.h>
#include <stdlib.h>
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

static char *read_file(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*len + 1);
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
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static xmlSecKeyPtr key_from_cert(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert) return NULL;
    EVP_PKEY *pkey = X509_get_pubkey(cert);
    X509_free(cert);
    if (!pkey) return NULL;
    xmlSecKeyDataPtr data = xmlSecOpenSSLEvpKeyAdopt(pkey);
    xmlSecKeyPtr key = xmlSecKeyCreate();
    if (!data || !key || xmlSecKeySetValue(key, data) < 0) return NULL;
    return key;
}

static int verify_signature(xmlNodePtr sig, xmlSecKeyPtr key) {
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    if (!ctx) return 0;
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id);
    ctx->signKey = xmlSecKeyDuplicate(key);
    int ok = ctx->signKey && xmlSecDSigCtxVerify(ctx, sig) == 0 &&
             ctx->status == xmlSecDSigStatusSucceeded;
    xmlSecDSigCtxDestroy(ctx);
    return ok;
}

/* Every ds:Signature child of the root or of an element child of the root must verify. */
static int verify_document(const char *xml, long len, xmlSecKeyPtr key) {
    static const xmlChar *ids[] = {BAD_CAST "ID", NULL};
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);
    if (!doc) return 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlSecAddIDs(doc, root, ids);
    int signatures = 0, ok = 1;
    for (xmlNodePtr n = root->children; n && ok; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (xmlSecCheckNodeName(n, xmlSecNodeSignature, xmlSecDSigNs)) {
            signatures++;
            ok = verify_signature(n, key);
            continue;
        }
        for (xmlNodePtr c = n->children; c && ok; c = c->next) {
            if (c->type == XML_ELEMENT_NODE &&
                xmlSecCheckNodeName(c, xmlSecNodeSignature, xmlSecDSigNs)) {
                signatures++;
                ok = verify_signature(c, key);
            }
        }
    }
    xmlFreeDoc(doc);
    return ok && signatures > 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s <cert.pem> <cpu-seconds> <doc.xml>...\n", argv[0]);
        return 2;
    }
    double budget = atof(argv[2]);
    int n = argc - 3;
    char **docs = calloc((size_t)n, sizeof *docs);
    long *lens = calloc((size_t)n, sizeof *lens);
    if (budget <= 0 || !docs || !lens) return 2;
    for (int i = 0; i < n; i++) {
        if (!(docs[i] = read_file(argv[i + 3], &lens[i]))) {
            fprintf(stderr, "cannot read %s\n", argv[i + 3]);
            return 2;
        }
    }
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0) {
        fprintf(stderr, "xmlsec init failed\n");
        return 2;
    }
    xmlSecKeyPtr key = key_from_cert(argv[1]);
    if (!key) {
        fprintf(stderr, "cannot take the key from %s\n", argv[1]);
        return 2;
    }
    long verified = 0;
    double start = cpu_now();
    while (cpu_now() - start < budget) {
        for (int i = 0; i < n; i++, verified++) {
            if (!verify_document(docs[i], lens[i], key)) {
                fprintf(stderr, "%s does not verify\n", argv[i + 3]);
                return 1;
            }
        }
    }
    printf("%.1f %ld\n", (double)verified / (cpu_now() - start), verified);
    xmlSecKeyDestroy(key);
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    return 0;
}
