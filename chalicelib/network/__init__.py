"""The network inside a tenant: service categories, professionals, customers, referrals.

Access patterns (every operation is under the bound tenant's ``T#<uuid>#`` prefix; no
Scan anywhere; ``refs`` counters make "delete while referenced" a single condition;
every TransactWriteItems below also Puts its audit event ``AUDIT``, see ``chalicelib.audit``):

| route / job | DynamoDB operations |
|---|---|
| GET /api/service-categories | Query pk=T#t#CAT |
| POST /api/service-categories | TransactWriteItems: Put CAT (attribute_not_exists) |
| GET/PATCH/DELETE /api/service-categories/{slug} | GetItem; PATCH: TransactWriteItems Update CAT (version); |
| | DELETE: TransactWriteItems Delete CAT (refs=0, version read) |
| GET /api/professionals | Query pk=T#t#PRO, or ?category= Query pk=T#t#PROCAT#<slug> |
| POST /api/professionals | TransactWriteItems: Put PRO, Put PROEMAIL#<hmac> (not exists), |
| | Update CAT refs+1 (exists) and Put PROCAT copy per category, Put PROUSER#<sub> (not exists), |
| | Update USAGE/professionals used+1 (used < effective limit: else 403 limit_exceeded) |
| GET /api/professionals/{id} | GetItem PRO |
| PATCH /api/professionals/{id} | GetItem PRO, TransactWriteItems: Update PRO (version), Put PROCAT copy per category, |
| | on changes: Delete/Put PROEMAIL, CAT refs+1/-1, Delete PROCAT copy of a removed category |
| DELETE /api/professionals/{id} | GetItem PRO, TransactWriteItems: Delete PRO (exists, refs=0, version read), |
| | Delete PROEMAIL, PROUSER and PROCAT copies, CAT refs-1, USAGE/professionals used-1 (exists); |
| | re-read and retry if PRO changed |
| GET /api/customers | Query pk=T#t#CUS (customers: GetItem CUSUSER#<sub>, GetItem CUS) |
| POST/GET/PATCH/DELETE /api/customers[/{id}] | as professionals, with CUSUSER for the login link and |
| | USAGE/customers as the counter |
| a create or delete whose tenant has no counter yet | GetItem USAGE, Query COUNT of the partition, |
| | Put USAGE (not exists), then the transaction again (once per tenant created before counters) |
| GET /api/referrals | Query pk=T#t#REF; ?status= Query gsi1 T#t#REFSTATUS#<s> |
| GET /api/referrals?professional_id=&direction= | Query gsi2 T#t#REFFROM#<id> (sent) or gsi3 T#t#REFTO#<id> |
| GET /api/referrals/{id} | GetItem REF |
| POST /api/referrals | TransactWriteItems: ConditionCheck CAT (exists, active), Put REF (not exists), |
| | Update PRO(from) and PRO(to) refs+1 (exists, active), Update CUS refs+1 (exists) |
| PATCH /api/referrals/{id} | GetItem REF, TransactWriteItems: Update REF (status, version), refs-1 on closing |
| after a referral is created, accepted or declined | GetItem CONFIG pointer; if the event mails or texts anyone: |
| | GetItem PRO x2, CAT, TPL, BRAND x2, INTEG (7 more; KMS only on a cold data-key cache), |
| | Query MEMBER pages for a staff party, GetItem CUS for the customer (``network.referral_notices``) |
| DELETE /api/referrals/{id} | GetItem REF, TransactWriteItems: Delete REF (version), refs-1 if open |
| any referral route, as a professional | first GetItem PROUSER#<sub> (its professional) |
"""
