// Cognito's own API (the AWS JSON protocol, as the AWS SDKs speak it), against AWS or, locally,
// moto's server: sign in, sign up, confirm, refresh. Tokens are JWTs; their claims say who.

const EXPLAINED = {
  NotAuthorizedException: "Wrong user name or password.",
  UserNotFoundException: "Wrong user name or password.",
  UsernameExistsException: "That user name is taken: choose another.",
  CodeMismatchException: "That code is not right: check the email we sent.",
  ExpiredCodeException: "That code has expired: sign up again for a new one.",
  UserNotConfirmedException: "Confirm your account with the code we emailed you first.",
  TooManyRequestsException: "Too many attempts: wait a moment and try again.",
};

export class CognitoError extends Error {
  constructor(type, message) {
    super(EXPLAINED[type] || message || "Signing in failed.");
    this.type = type;
  }
}

export class Cognito {
  constructor({ cognitoEndpoint, clientId }) {
    this.endpoint = cognitoEndpoint;
    this.clientId = clientId;
  }

  async signIn(username, password) {
    const answer = await this.#call("InitiateAuth", {
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: this.clientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    return session(answer.AuthenticationResult);
  }

  // A new ID token from the refresh token (kept: Cognito does not rotate it).
  async refresh(current) {
    const answer = await this.#call("InitiateAuth", {
      AuthFlow: "REFRESH_TOKEN_AUTH",
      ClientId: this.clientId,
      AuthParameters: { REFRESH_TOKEN: current.refreshToken },
    });
    return session({ ...answer.AuthenticationResult, RefreshToken: current.refreshToken });
  }

  async signUp({ username, password, email, name }) {
    await this.#call("SignUp", {
      ClientId: this.clientId,
      Username: username,
      Password: password,
      UserAttributes: [
        { Name: "email", Value: email },
        { Name: "name", Value: name },
      ],
    });
  }

  async confirm(username, code) {
    await this.#call("ConfirmSignUp", {
      ClientId: this.clientId,
      Username: username,
      ConfirmationCode: code,
    });
  }

  async #call(operation, body) {
    const response = await fetch(this.endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${operation}`,
      },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const type = String(answer.__type || "").split("#").pop();
      throw new CognitoError(type, answer.message || answer.Message);
    }
    return answer;
  }
}

function session(result) {
  if (!result || !result.IdToken) throw new CognitoError("", "Cognito gave no token.");
  return { idToken: result.IdToken, refreshToken: result.RefreshToken };
}

export function claims(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
}

// True when the token has less than a minute left.
export function expiring(token, now = Date.now()) {
  return claims(token).exp * 1000 - now < 60_000;
}
