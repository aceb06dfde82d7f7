//! The common shape of IAM ARNs: `arn:<partition>:iam::<account>:<resource>`.

/// The parts of an IAM ARN, not yet validated beyond their positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IamArn<'a> {
    pub partition: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> IamArn<'a> {
    /// Splits `arn:<partition>:iam::<account>:<resource>` (IAM has no region); the resource may
    /// itself contain `:`.
    pub fn split(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        Some(Self {
            partition,
            account,
            resource,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_iam_arns() {
        let a = IamArn::split("arn:aws:iam::123456789012:role/path/Admin").unwrap();
        assert_eq!(
            (a.partition, a.account, a.resource),
            ("aws", "123456789012", "role/path/Admin")
        );
        let p = IamArn::split("arn:aws-cn:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!(p.account, "aws");
        for bad in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123",
        ] {
            assert!(IamArn::split(bad).is_none(), "{bad}");
        }
    }
}
