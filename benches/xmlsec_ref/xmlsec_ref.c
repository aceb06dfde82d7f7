/*
 * The floor Roleport's SAML verification is measured against (benches/acs.rs builds and runs it):
 * libxmlsec1 verifying every ds:Signature of a document, with the same per-document work a
 * careful SP does in C and nothing more: parse the bytes, register the ID attributes, verify each
 * signature (same-document references only; exc-c14n, enveloped and SHA-2 digest transforms only),
 * free the tree: the same narrowing Roleport's verification uses.
 *
 *   xmlsec_ref <cert.der> <preparsed|certder> <cpu-seconds> <doc.xml>
 *
 * preparsed: the public key is taken from the certificate once, as a bare key, and duplicated
 *            into each signature context (xmlsec destroys the context's key with it).
 * certder:   the key is loaded from the certificate DER for each signature (what samael does).
 *
 * Prints "<verifications per CPU-second> <iterations>" on stdout: CPU time of this thread, so
 * other load on the machine does not count against it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
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

static xmlSecKeyPtr bare_key(const unsigned char *der, long len) {
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, len);
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

static int verify_signature(xmlNodePtr sig, xmlSecKeyPtr preparsed, const unsigned char *der,
                            long der_len) {
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    if (!ctx) return 0;
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformExclC14NId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformEnvelopedId);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha256Id);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha384Id);
    xmlSecDSigCtxEnableReferenceTransform(ctx, xmlSecTransformSha512Id);
    ctx->signKey = preparsed ? xmlSecKeyDuplicate(preparsed)
                             : xmlSecCryptoAppKeyLoadMemory(der, (xmlSecSize)der_len,
                                                            xmlSecKeyDataFormatCertDer, NULL,
                                                            NULL, NULL);
    int ok = ctx->signKey && xmlSecDSigCtxVerify(ctx, sig) == 0 &&
             ctx->status == xmlSecDSigStatusSucceeded;
    xmlSecDSigCtxDestroy(ctx);
    return ok;
}

/* Verifies every ds:Signature that is a child of the root or of an element child of the root. */
static int verify_document(const unsigned char *xml, long len, xmlSecKeyPtr preparsed,
                           const unsigned char *der, long der_len) {
    static const xmlChar *ids[] = {BAD_CAST "ID", NULL};
    xmlDocPtr doc = xmlReadMemory((const char *)xml, (int)len, NULL, NULL,
                                  XML_PARSE_NONET);
    if (!doc) return 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlSecAddIDs(doc, root, ids);
    int signatures = 0, ok = 1;
    for (xmlNodePtr n = root->children; n && ok; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        if (xmlSecCheckNodeName(n, xmlSecNodeSignature, xmlSecDSigNs)) {
            signatures++;
            ok = verify_signature(n, preparsed, der, der_len);
            continue;
        }
        for (xmlNodePtr c = n->children; c && ok; c = c->next) {
            if (c->type == XML_ELEMENT_NODE &&
                xmlSecCheckNodeName(c, xmlSecNodeSignature, xmlSecDSigNs)) {
                signatures++;
                ok = verify_signature(c, preparsed, der, der_len);
            }
        }
    }
    xmlFreeDoc(doc);
    return ok && signatures > 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <cert.der> <preparsed|certder> <cpu-seconds> <doc.xml>\n",
                argv[0]);
        return 2;
    }
    long der_len = 0, xml_len = 0;
    unsigned char *der = read_file(argv[1], &der_len);
    unsigned char *xml = read_file(argv[4], &xml_len);
    double budget = atof(argv[3]);
    if (!der || !xml || budget <= 0) {
        fprintf(stderr, "cannot read inputs\n");
        return 2;
    }
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCryptoAppInit(NULL) < 0 || xmlSecCryptoInit() < 0) {
        fprintf(stderr, "xmlsec init failed\n");
        return 2;
    }
    xmlSecKeyPtr preparsed = NULL;
    if (strcmp(argv[2], "preparsed") == 0) {
        preparsed = bare_key(der, der_len);
        if (!preparsed) {
            fprintf(stderr, "cannot take the key from the certificate\n");
            return 2;
        }
    } else if (strcmp(argv[2], "certder") != 0) {
        fprintf(stderr, "mode must be preparsed or certder\n");
        return 2;
    }
    if (!verify_document(xml, xml_len, preparsed, der, der_len)) {
        fprintf(stderr, "the document does not verify\n");
        return 1;
    }
    long iterations = 0;
    double start = cpu_now(), elapsed = 0;
    while (elapsed < budget) {
        for (int i = 0; i < 50; i++) {
            if (!verify_document(xml, xml_len, preparsed, der, der_len)) {
                fprintf(stderr, "verification failed during the run\n");
                return 1;
            }
        }
        iterations += 50;
        elapsed = cpu_now() - start;
    }
    printf("%.1f %ld\n", (double)iterations / elapsed, iterations);
    if (preparsed) xmlSecKeyDestroy(preparsed);
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    free(der);
    free(xml);
    return 0;
}
