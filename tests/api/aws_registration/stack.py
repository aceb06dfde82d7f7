"""Deploys deploy/aws/roleport-account.yaml to moto's CloudFormation and reports what it made.

Usage: stack.py MOTO_URL TEMPLATE PARAMETERS_JSON
Prints one JSON object: the stack's status and outputs, and each created role's trust policy and
inline policies as IAM returns them. Exit status 1 (with the reason on stderr) when the stack does not reach CREATE_COMPLETE.
"""

import ast
import json
import sys
import time
import uuid

import boto3


def document(policy):
    """A policy document as a dict. moto's CloudFormation stores a role's inline policy as the
    Python repr of the template's mapping, which GetRolePolicy then returns as a string."""
    if isinstance(policy, dict):
        return policy
    try:
        return json.loads(policy)
    except ValueError:
        return ast.literal_eval(policy)


def main():
    moto, template, parameters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    session = dict(
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    cfn = boto3.client("cloudformation", **session)
    iam = boto3.client("iam", **session)
    name = "roleport-" + uuid.uuid4().hex[:12]
    cfn.create_stack(
        StackName=name,
        TemplateBody=open(template).read(),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    for _ in range(100):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.1)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        print(f"stack {name}: {stack['StackStatus']}: {stack.get('StackStatusReason')}", file=sys.stderr)
        sys.exit(1)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    roles = {}
    for resource in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]:
        if resource["ResourceType"] == "AWS::IAM::Role":
            role = iam.get_role(RoleName=resource["PhysicalResourceId"])["Role"]
            name = role["RoleName"]
            policies = {
                p: document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
                for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
            }
            roles[role["Arn"]] = {
                "trust": role["AssumeRolePolicyDocument"],
                "max_session_seconds": role.get("MaxSessionDuration"),
                "policies": policies,
            }
    print(json.dumps({"stack": name, "status": stack["StackStatus"], "outputs": outputs, "roles": roles}))


if __name__ == "__main__":
    main()
