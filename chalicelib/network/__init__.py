"""The network inside a tenant: service categories, professionals, customers, referrals.

Access patterns (every operation is under the bound tenant's ``T#<uuid>#`` prefix; no
Scan anywhere; ``refs`` counters make "delete while referenced" a single condition):

| route / job | DynamoDB operations |
|---|---|
| GET /api/service-categories | Query pk=T#t#CAT |
| POST /api/service-categories | PutItem CAT (attribute_not_exists) |
| GET/PATCH/DELETE /api/service-categories/{slug} | GetItem / UpdateItem (version) / DeleteItem (refs=0) |
| GET /api/professionals | Query pk=T#t#PRO, or ?category= Query pk=T#t#PROCAT#<slug> |
| POST /api/professionals | TransactWriteItems: Put PRO, Put PROEMAIL#<hmac>, Update CAT refs+1 and Put PROCAT copy per category, Put PROUSER#<sub> |
| GET /api/professionals/{id} | GetItem PRO |
| PATCH /api/professionals/{id} | GetItem PRO, TransactWriteItems: Update PRO (version), email and category index changes |
| DELETE /api/professionals/{id} | GetItem PRO, TransactWriteItems: Delete PRO (refs=0), its email, category and user items |
| GET /api/customers | Query pk=T#t#CUS (customers: GetItem CUSUSER#<sub>, GetItem CUS) |
| POST/GET/PATCH/DELETE /api/customers[/{id}] | as professionals, with CUSUSER for the login link |
| GET /api/referrals | Query pk=T#t#REF; ?status= Query gsi1 T#t#REFSTATUS#<s>; ?professional_id=&direction= Query gsi2 T#t#REFFROM#<id> or gsi3 T#t#REFTO#<id> |
| POST /api/referrals | TransactWriteItems: Put REF, Update PRO(from) refs+1, Update PRO(to) refs+1 (exists, active), Update CUS refs+1 (exists), ConditionCheck CAT (exists, active) |
| PATCH /api/referrals/{id} | GetItem REF, TransactWriteItems: Update REF (status, version), refs-1 on closing |
| DELETE /api/referrals/{id} | GetItem REF, TransactWriteItems: Delete REF (version), refs-1 if open |
"""
