//! The binding rules, as a table and as properties over any history of registrations,
//! requests and forgets by the owner and by an attacker.

use proptest::prelude::*;

use super::*;

fn cert(issuer: &str, cn: &str) -> CertificateIdentity {
    CertificateIdentity {
        issuer: format!("CN={issuer}"),
        subject: format!("O=acc, OU=agent, CN={cn}"),
        cn: cn.into(),
    }
}

fn bound(token: u8, certificate: Option<CertificateIdentity>) -> Binding {
    Binding::Bound { token_sha256: [token; 32], certificate }
}

fn proof(token: Option<u8>, certificate: Option<&CertificateIdentity>) -> Proof<'_> {
    Proof { token_sha256: token.map(|t| [t; 32]), certificate }
}

#[test]
fn requests_need_the_token_or_the_certificate_of_a_bound_id() {
    let fleet = cert("Fleet CA", "web01");
    let lab_same_cn = cert("Lab CA", "web01");
    let other = cert("Fleet CA", "web02");
    let by_token = bound(1, None);
    let by_both = bound(1, Some(fleet.clone()));
    for (binding, p, ok, why) in [
        (None, proof(Some(1), Some(&fleet)), false, "not registered here"),
        (
            Some(&Binding::Legacy { certificate_cn: None }),
            proof(Some(1), None),
            false,
            "legacy: register first",
        ),
        (Some(&by_token), proof(Some(1), None), true, "its token"),
        (Some(&by_token), proof(Some(2), None), false, "another token"),
        (Some(&by_token), proof(None, None), false, "the ACC alone"),
        (Some(&by_token), proof(None, Some(&fleet)), false, "a certificate, not the token"),
        (Some(&by_both), proof(None, Some(&fleet)), true, "its certificate"),
        (Some(&by_both), proof(Some(1), Some(&other)), true, "its token with another certificate"),
        (Some(&by_both), proof(None, Some(&lab_same_cn)), false, "same subject, another CA"),
        (Some(&by_both), proof(Some(9), Some(&other)), false, "another fleet certificate"),
    ] {
        assert_eq!(may_act(binding, &p), ok, "{why}");
    }
}

#[test]
fn registrations_bind_keep_or_refuse() {
    let fleet = cert("Fleet CA", "web01");
    let lab_same_cn = cert("Lab CA", "web01");
    let other = cert("Lab CA", "web02");
    let legacy_cert = Binding::Legacy { certificate_cn: Some("web01".into()) };
    let by_both = bound(1, Some(fleet.clone()));
    for (binding, p, want, why) in [
        (None, proof(None, None), Registration::Issue, "a new id"),
        (None, proof(Some(7), None), Registration::Issue, "a stale token for a forgotten id"),
        (
            Some(&Binding::Legacy { certificate_cn: None }),
            proof(None, None),
            Registration::Issue,
            "legacy ACC",
        ),
        (Some(&legacy_cert), proof(None, Some(&lab_same_cn)), Registration::Issue, "legacy, same CN"),
        (Some(&legacy_cert), proof(None, Some(&other)), Registration::Refuse, "legacy, another CN"),
        (Some(&legacy_cert), proof(Some(1), None), Registration::Refuse, "legacy certificate, ACC only"),
        (Some(&by_both), proof(Some(1), None), Registration::Keep, "its token"),
        (Some(&by_both), proof(None, Some(&fleet)), Registration::Issue, "its certificate, token lost"),
        (Some(&by_both), proof(Some(2), Some(&fleet)), Registration::Issue, "its certificate, a wrong token"),
        (Some(&by_both), proof(Some(2), None), Registration::Refuse, "another token"),
        (Some(&by_both), proof(None, Some(&lab_same_cn)), Registration::Refuse, "lab CA, same CN"),
    ] {
        assert_eq!(register(binding, &p), want, "{why}");
    }
}

#[test]
fn a_kept_token_keeps_the_certificate_and_binds_a_new_one() {
    let fleet = cert("Fleet CA", "web01");
    let renewed = cert("Fleet CA 2", "web01");
    let b = bound(1, Some(fleet.clone()));
    let kept = bound_after(Some(&b), &Registration::Keep, &proof(Some(1), None), [9; 32]);
    assert_eq!(kept, Some(bound(1, Some(fleet))), "a password session keeps the certificate");
    let moved = bound_after(Some(&b), &Registration::Keep, &proof(Some(1), Some(&renewed)), [9; 32]);
    assert_eq!(moved, Some(bound(1, Some(renewed.clone()))));
    let issued = bound_after(Some(&b), &Registration::Issue, &proof(None, Some(&renewed)), [9; 32]);
    assert_eq!(issued, Some(bound(9, Some(renewed))));
    assert_eq!(bound_after(Some(&b), &Registration::Refuse, &proof(None, None), [9; 32]), None);
    assert_eq!(bound_after(None, &Registration::Keep, &proof(Some(1), None), [9; 32]), None);
}

#[test]
fn operators_see_what_an_id_is_bound_to() {
    assert_eq!(bound(1, None).describe(), "token");
    assert!(bound(1, Some(cert("Fleet CA", "web01"))).describe().contains("CN=web01 issued by CN=Fleet CA"));
    assert!(Binding::Legacy { certificate_cn: Some("x".into()) }.describe().contains("CN=x binds it"));
}

/// One step of a history on one id.
#[derive(Debug, Clone)]
enum Op {
    /// The owner registers with its token (if it has one) and, when `with_cert`, its
    /// certificate.
    OwnerRegisters { with_cert: bool },
    /// The owner loses its token (a lost answer, a rebuilt state).
    OwnerLosesToken,
    /// An operator forgets the id.
    Forget,
    /// The attacker registers or acts with the ACC, a guessed token, and maybe a
    /// certificate of its own (another CN, or the owner's subject from another CA).
    Attacker { token: u8, cert: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(|with_cert| Op::OwnerRegisters { with_cert }),
        Just(Op::OwnerLosesToken),
        Just(Op::Forget),
        (any::<u8>(), 0u8..3).prop_map(|(token, cert)| Op::Attacker { token, cert }),
    ]
}

proptest! {
    /// Whatever happens, the attacker never acts for a bound id and never takes it over;
    /// it only gets the id when it was free (never registered, or forgotten). The owner
    /// acts whenever it holds the token its last accepted registration answered, and its
    /// certificate registration always succeeds while the id is bound to that certificate.
    #[test]
    fn an_attacker_never_takes_a_bound_id(history in prop::collection::vec(op(), 1..40)) {
        let owner_cert = cert("Fleet CA", "web01");
        let attacker_certs = [cert("Lab CA", "web01"), cert("Fleet CA", "evil01")];
        let mut binding: Option<Binding> = None;
        let mut owner_token: Option<[u8; 32]> = None;
        let mut attacker_owns = false;
        // Tokens the site issues: unguessable, never a value the attacker picks (< 256).
        let mut next_token = 1000u32;
        let mut issue = || {
            next_token += 1;
            let mut t = [0u8; 32];
            t[..4].copy_from_slice(&next_token.to_be_bytes());
            t[31] = 0xAA;
            t
        };
        for op in history {
            match op {
                Op::OwnerRegisters { with_cert } => {
                    let p = Proof {
                        token_sha256: owner_token,
                        certificate: with_cert.then_some(&owner_cert),
                    };
                    let d = register(binding.as_ref(), &p);
                    if !attacker_owns && matches!(binding, Some(Binding::Bound { certificate: Some(_), .. })) && with_cert {
                        prop_assert_ne!(&d, &Registration::Refuse, "its certificate proves it");
                    }
                    if d != Registration::Refuse {
                        let t = issue();
                        binding = bound_after(binding.as_ref(), &d, &p, t);
                        if d == Registration::Issue {
                            owner_token = Some(t);
                        }
                        attacker_owns = false;
                        let owner = Proof { token_sha256: owner_token, certificate: None };
                        prop_assert!(may_act(binding.as_ref(), &owner), "the owner's own token");
                    }
                }
                Op::OwnerLosesToken => owner_token = None,
                Op::Forget => binding = None,
                Op::Attacker { token, cert } => {
                    let c = attacker_certs.get(usize::from(cert));
                    let p = Proof { token_sha256: Some([token; 32]), certificate: c };
                    let was_free = binding.is_none()
                        || matches!(binding, Some(Binding::Legacy { certificate_cn: None }));
                    if !attacker_owns {
                        prop_assert!(!may_act(binding.as_ref(), &p), "acted for the owner's id");
                    }
                    let d = register(binding.as_ref(), &p);
                    if d != Registration::Refuse {
                        prop_assert!(was_free || attacker_owns, "took over a bound id: {:?}", binding);
                        binding = bound_after(binding.as_ref(), &d, &p, [token; 32]);
                        attacker_owns = true;
                    }
                }
            }
        }
    }
}
