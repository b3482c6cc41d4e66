//! Signature Version 4, checked as AWS checks it, when routes.toml names access keys: the
//! request's canonical form is signed again with the key's secret and the signatures compared.
//! Without access keys in routes.toml any request is served, as local emulators serve it.

use std::collections::HashMap;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::AwsError;
use crate::api::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The accepted access keys: id to secret.
pub type AccessKeys = HashMap<String, Secret>;

/// Checks the `Authorization` header of a `POST /` against the keys.
pub fn verify(keys: &AccessKeys, headers: &HeaderMap, body: &[u8]) -> Result<(), AwsError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(authorization) = header("authorization") else {
        return Err(AwsError::client(
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        ));
    };
    let malformed = || {
        AwsError::client(
            "IncompleteSignatureException",
            format!(
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters of an AWS4-HMAC-SHA256 signature: {authorization}"
            ),
        )
    };
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(malformed)?;
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(credential), Some(signed), Some(signature)) = (
        field("Credential"),
        field("SignedHeaders"),
        field("Signature"),
    ) else {
        return Err(malformed());
    };
    let Some((key_id, scope)) = credential.split_once('/') else {
        return Err(malformed());
    };
    let Some(secret) = keys.get(key_id) else {
        return Err(AwsError::client(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    };
    let date = header("x-amz-date").ok_or_else(malformed)?;
    let mut canonical_headers = String::new();
    for name in signed.split(';') {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let value = values
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(",");
        canonical_headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical_request = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        hex(&Sha256::digest(body))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = format!("AWS4{}", secret.expose()).into_bytes();
    for part in scope.split('/') {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, string_to_sign.as_bytes()));
    if !Secret::new(expected).matches(signature) {
        return Err(AwsError::client(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(())
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// AWS's documented example of deriving a signing key ("Examples of how to derive a
    /// signing key for Signature Version 4"): secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
    /// 20120215, us-east-1, iam.
    #[test]
    fn the_signing_key_is_derived_as_aws_documents_it() {
        let mut key = b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec();
        for part in ["20120215", "us-east-1", "iam", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    /// A request signed with the key passes; another body, an unknown key or no signature are
    /// refused as AWS refuses them. (boto3's own signatures: tests/aws_api/dynamodb.rs.)
    #[test]
    fn a_request_signed_with_the_key_passes_and_any_change_fails() {
        let keys = AccessKeys::from([(
            "AKIDEXAMPLE".to_string(),
            Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        )]);
        let scope = "20150830/us-east-1/service/aws4_request";
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        // The signature as a client makes it, by the same steps.
        let canonical = format!(
            "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{}",
            hex(&Sha256::digest(b""))
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n20150830T123600Z\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let mut key = b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec();
        for part in scope.split('/') {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}"
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).unwrap(),
        );
        assert_eq!(verify(&keys, &headers, b""), Ok(()));
        // Another body, another key, no header: each refused as AWS refuses it.
        assert_eq!(
            verify(&keys, &headers, b"{}").unwrap_err().kind,
            "InvalidSignatureException"
        );
        let other = AccessKeys::from([("OTHER".to_string(), Secret::new("x"))]);
        assert_eq!(
            verify(&other, &headers, b"").unwrap_err().kind,
            "UnrecognizedClientException"
        );
        headers.remove("authorization");
        assert_eq!(
            verify(&keys, &headers, b"").unwrap_err().kind,
            "MissingAuthenticationTokenException"
        );
    }
}
